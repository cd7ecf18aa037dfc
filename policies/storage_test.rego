package mpcguard.storage_test

import data.mpcguard.lib_test.alice
import data.mpcguard.lib_test.alice_breaking_glass
import data.mpcguard.lib_test.config
import data.mpcguard.lib_test.custom_config
import data.mpcguard.lib_test.policies
import data.mpcguard.storage

# A PersistentVolumeClaim created by alice, cloned from the given claim.
claim_from(name) := {
	"kind": "PersistentVolumeClaim",
	"operation": "CREATE",
	"namespace": "mpc-system",
	"name": "copy",
	"user": alice,
	"claim": {"clones": [{"kind": "PersistentVolumeClaim", "name": name}]},
}

# A VolumeSnapshot created by alice of the given claim.
snapshot_of(name) := {
	"kind": "VolumeSnapshot",
	"operation": "CREATE",
	"namespace": "mpc-system",
	"name": "snap",
	"user": alice,
	"snapshot": {"claim": name},
}

by(request, user) := object.union(request, {"user": user})

# share-storage-copy: PersistentVolumeClaim

test_denies_claim_cloning_a_share_claim if {
	v := storage.violation with input as claim_from("share-data-mpc-party-0")
		with data.mpcguard.config as config
	v == {{
		"policy": "share-storage-copy",
		"msg": "claim clones the persistent pool's share storage (PersistentVolumeClaim share-data-mpc-party-0); a copy of a key share outside the persistent pool is a leaked share (break glass: members of mpcguard:break-glass)",
	}}
}

test_denies_claim_cloning_a_share_claim_offline if {
	v := storage.violation with input as object.remove(claim_from("share-data-mpc-party-1"), ["user"])
		with data.mpcguard.config as config
	policies(v) == {"share-storage-copy"}
}

test_denies_claim_cloning_a_share_claim_on_update if {
	v := storage.violation with input as object.union(claim_from("share-data-mpc-party-0"), {"operation": "UPDATE"})
		with data.mpcguard.config as config
	policies(v) == {"share-storage-copy"}
}

test_admits_claim_cloning_a_share_claim_by_a_break_glass_user if {
	v := storage.violation with input as by(claim_from("share-data-mpc-party-0"), alice_breaking_glass)
		with data.mpcguard.config as config
	v == set()
}

test_admits_claim_cloning_another_claim if {
	every name in ["scratch", "share-data-mpc-party-delegate-0", "share-data-mpc-party-"] {
		count(storage.violation) == 0 with input as claim_from(name)
			with data.mpcguard.config as config
	}
}

test_admits_claim_without_clones if {
	every claim in [{}, {"clones": []}, null] {
		count(storage.violation) == 0 with input as object.union(claim_from("x"), {"claim": claim})
			with data.mpcguard.config as config
	}
}

test_admits_claim_restored_from_a_snapshot_named_like_a_share_claim if {
	# the snapshot itself was refused when it was taken of a share claim
	req := object.union(claim_from("x"), {"claim": {"clones": [{"kind": "VolumeSnapshot", "name": "share-data-mpc-party-0"}]}})
	v := storage.violation with input as req
		with data.mpcguard.config as config
	v == set()
}

# share-storage-copy: VolumeSnapshot

test_denies_snapshot_of_a_share_claim if {
	v := storage.violation with input as snapshot_of("share-data-mpc-party-2")
		with data.mpcguard.config as config
	v == {{
		"policy": "share-storage-copy",
		"msg": "snapshot copies the share claim share-data-mpc-party-2; a copy of a key share outside the persistent pool is a leaked share (break glass: members of mpcguard:break-glass)",
	}}
}

test_admits_snapshot_of_a_share_claim_by_a_break_glass_user if {
	v := storage.violation with input as by(snapshot_of("share-data-mpc-party-2"), alice_breaking_glass)
		with data.mpcguard.config as config
	v == set()
}

test_admits_snapshot_of_another_claim if {
	every name in ["scratch", "share-data-mpc-party-delegate-0"] {
		count(storage.violation) == 0 with input as snapshot_of(name)
			with data.mpcguard.config as config
	}
	count(storage.violation) == 0 with input as object.remove(snapshot_of("x"), ["snapshot"])
		with data.mpcguard.config as config
}

# scope

test_ignores_copies_on_delete_or_another_kind if {
	every req in [
		object.union(claim_from("share-data-mpc-party-0"), {"operation": "DELETE"}),
		object.union(snapshot_of("share-data-mpc-party-0"), {"operation": "DELETE"}),
		object.union(claim_from("share-data-mpc-party-0"), {"kind": "VolumeSnapshot"}),
		object.union(snapshot_of("share-data-mpc-party-0"), {"kind": "PersistentVolumeClaim"}),
	] {
		count(storage.violation) == 0 with input as req
			with data.mpcguard.config as config
	}
}

test_custom_share_storage_and_break_glass_groups_are_honoured if {
	keys := storage.violation with input as snapshot_of("keys-0")
		with data.mpcguard.config as custom_config
	default_claim := storage.violation with input as snapshot_of("share-data-mpc-party-0")
		with data.mpcguard.config as custom_config
	sre := storage.violation with input as by(claim_from("keys-3"), {"username": "bob", "groups": ["signer:sre"]})
		with data.mpcguard.config as custom_config
	keys == {{
		"policy": "share-storage-copy",
		"msg": "snapshot copies the share claim keys-0; a copy of a key share outside the persistent pool is a leaked share (break glass: members of signer:oncall, signer:sre)",
	}}
	default_claim == set()
	sre == set()
}

# share-deletion: share PersistentVolumeClaims and Secrets

deleting(kind, name, user) := {
	"kind": kind,
	"operation": "DELETE",
	"namespace": "mpc-system",
	"name": name,
	"user": user,
}

test_denies_deleting_a_share_claim if {
	v := storage.violation with input as deleting("PersistentVolumeClaim", "share-data-mpc-party-0", alice)
		with data.mpcguard.config as config
	v == {{
		"policy": "share-deletion",
		"msg": `the claim holds a persistent party's key shares; deleting it needs the annotation mpcguard.io/break-glass: "<reason>" on the object and a member of mpcguard:break-glass (kubectl annotate, then kubectl delete --as=<you> --as-group=<group>, recorded in the audit log)`,
	}}
}

test_denies_deleting_a_share_secret if {
	v := storage.violation with input as deleting("Secret", "mpc-db", alice)
		with data.mpcguard.config as config
	v == {{
		"policy": "share-deletion",
		"msg": `the Secret holds the persistent pool's key shares; deleting it needs the annotation mpcguard.io/break-glass: "<reason>" on the object and a member of mpcguard:break-glass (kubectl annotate, then kubectl delete --as=<you> --as-group=<group>, recorded in the audit log)`,
	}}
}

test_denies_deleting_share_storage_with_the_annotation_but_no_break_glass_group if {
	every kind, name in {"PersistentVolumeClaim": "share-data-mpc-party-1", "Secret": "mpc-db"} {
		v := storage.violation with input as object.union(deleting(kind, name, alice), {"break_glass_reason": "rotate"})
			with data.mpcguard.config as config
		policies(v) == {"share-deletion"}
	}
}

test_denies_deleting_share_storage_offline if {
	v := storage.violation with input as object.remove(deleting("Secret", "mpc-db", alice), ["user"])
		with data.mpcguard.config as config
	policies(v) == {"share-deletion"}
}

test_admits_a_break_glass_deletion_of_share_storage_with_a_notice if {
	every kind, name in {"PersistentVolumeClaim": "share-data-mpc-party-1", "Secret": "mpc-db"} {
		v := storage.violation with input as object.union(deleting(kind, name, alice_breaking_glass), {"break_glass_reason": "rotate keys, INC-7"})
			with data.mpcguard.config as config
		v == {{"policy": "share-deletion", "msg": `deleted by alice breaking glass (mpcguard:break-glass): "rotate keys, INC-7"`, "notice": true}}
	}
}

test_admits_deleting_other_claims_and_secrets if {
	every kind, name in {
		"PersistentVolumeClaim": "share-data-mpc-party-delegate-0",
		"Secret": "mpc-party-tls",
	} {
		count(storage.violation) == 0 with input as deleting(kind, name, alice)
			with data.mpcguard.config as config
	}
}

test_does_not_judge_the_deleted_claims_clones if {
	v := storage.violation with input as object.union(deleting("PersistentVolumeClaim", "copy", alice), {"claim": {"clones": [{"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"}]}})
		with data.mpcguard.config as config
	v == set()
}

test_names_the_custom_break_glass_groups if {
	v := storage.violation with input as deleting("Secret", "vault-shares", alice)
		with data.mpcguard.config as custom_config
	some x in v
	contains(x.msg, "a member of signer:oncall, signer:sre")
}

test_lists_only_the_break_glass_groups_of_the_user if {
	user := {"username": "bob", "groups": ["signer:sre", "system:authenticated", "signer:oncall"]}
	v := storage.violation with input as object.union(deleting("Secret", "vault-shares", user), {"break_glass_reason": "x"})
		with data.mpcguard.config as custom_config
	v == {{"policy": "share-deletion", "msg": `deleted by bob breaking glass (signer:oncall, signer:sre): "x"`, "notice": true}}
}
