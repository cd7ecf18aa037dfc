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
