package mpcguard.lib_test

import data.mpcguard.lib

# The default configuration, shared by every test package as data.mpcguard.lib_test.config.
config := {
	"role_label_key": "party-role",
	"party_selector": {"app.kubernetes.io/component": "mpc-party"},
	"allowed_roles": ["persistent", "delegate", "temporary"],
	"share_storage": {
		"secret_names": ["mpc-db"],
		"claim_prefixes": ["share-data-mpc-party-"],
	},
	"persistent_workloads": ["mpc-party"],
	"controller_users": [statefulset_controller, "system:kube-controller-manager"],
	"break_glass_groups": ["mpcguard:break-glass"],
	"threshold": 2,
}

# A non-default configuration: another role label key, a two-label selector, another share storage,
# no persistent StatefulSet named (any StatefulSet may run persistent parties) and other break-glass groups.
custom_config := {
	"role_label_key": "signer.example.com/role",
	"party_selector": {"tier": "mpc", "app": "signer"},
	"allowed_roles": ["persistent", "delegate", "temporary"],
	"share_storage": {
		"secret_names": ["vault-shares"],
		"claim_prefixes": ["keys-"],
	},
	"persistent_workloads": [],
	"controller_users": [statefulset_controller],
	"break_glass_groups": ["signer:oncall", "signer:sre"],
	"threshold": 3,
}

# Labels of a party pod (default selector) with the given role.
party_labels(role) := {"app.kubernetes.io/component": "mpc-party", "party-role": role}

# The identity the StatefulSet controller creates pods with.
statefulset_controller := "system:serviceaccount:kube-system:statefulset-controller"

# Requesting users: an ordinary user, and the same user breaking glass.
alice := {"username": "alice", "groups": ["system:authenticated", "mpc-operators"]}

alice_breaking_glass := {"username": "alice", "groups": ["system:authenticated", "mpcguard:break-glass"]}

# The policy ids of a set of violations.
policies(violations) := {v.policy | some v in violations}

test_checks_create_and_update_of_the_kind if {
	lib.checks({"kind": "Pod", "operation": "CREATE"}, "Pod")
	lib.checks({"kind": "Pod", "operation": "UPDATE"}, "Pod")
}

test_does_not_check_delete_connect_or_another_kind if {
	not lib.checks({"kind": "Pod", "operation": "DELETE"}, "Pod")
	not lib.checks({"kind": "Pod", "operation": "CONNECT"}, "Pod")
	not lib.checks({"kind": "Pod", "operation": "CREATE"}, "Deployment")
	not lib.checks({"operation": "CREATE"}, "Pod")
}

test_workload_kinds_are_the_six_pod_template_kinds if {
	lib.workload_kinds == {"Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "CronJob"}
}

test_selector_matches_labels_carrying_every_selector_label if {
	lib.matches_selector({"app": "signer", "tier": "mpc", "extra": "x"}, {"app": "signer", "tier": "mpc"})
}

test_selector_does_not_match_a_missing_or_different_label if {
	not lib.matches_selector({"app": "signer"}, {"app": "signer", "tier": "mpc"})
	not lib.matches_selector({"app": "signer", "tier": "web"}, {"app": "signer", "tier": "mpc"})
}

test_empty_or_malformed_selector_matches_nothing if {
	not lib.matches_selector({"app": "signer"}, {})
	not lib.matches_selector({"app": "signer"}, "app=signer")
	not lib.matches_selector("app=signer", {"app": "signer"})
}

test_selector_text_is_sorted_key_value_pairs if {
	lib.selector_text({"tier": "mpc", "app": "signer"}) == "app=signer,tier=mpc"
}

test_roles_text_keeps_configuration_order if {
	lib.roles_text(["persistent", "delegate", "temporary"]) == "persistent, delegate, temporary"
}

test_labels_are_empty_when_absent_or_malformed if {
	lib.labels({"labels": {"a": "b"}}) == {"a": "b"}
	lib.labels({}) == {}
	lib.labels({"labels": null}) == {}
	lib.labels("pod") == {}
}

test_names_keep_only_strings_of_an_array if {
	lib.names({"claims": ["a", 1, "b"]}, "claims") == {"a", "b"}
	lib.names({"host_paths": ["/var/lib/mpc"]}, "host_paths") == {"/var/lib/mpc"}
	lib.names({"claims": "a"}, "claims") == set()
	lib.names({}, "claims") == set()
	lib.names(null, "claims") == set()
}

test_non_persistent_role_is_an_allowed_role_other_than_persistent if {
	lib.non_persistent_role("delegate", config.allowed_roles)
	lib.non_persistent_role("temporary", config.allowed_roles)
	not lib.non_persistent_role("persistent", config.allowed_roles)
	not lib.non_persistent_role("Delegate", config.allowed_roles)
}

# share storage

test_share_access_names_share_claims_secrets_and_every_host_path if {
	obj := {
		"claims": ["share-data-mpc-party-1", "scratch", "share-data-mpc-party-0"],
		"secrets": ["tls", "mpc-db"],
		"host_paths": ["/var/log"],
	}
	lib.share_access(obj, config.share_storage) == {
		"PersistentVolumeClaim share-data-mpc-party-0",
		"PersistentVolumeClaim share-data-mpc-party-1",
		"Secret mpc-db",
		"hostPath /var/log",
	}
}

test_share_access_of_an_object_without_storage_is_empty if {
	lib.share_access({"labels": {}}, config.share_storage) == set()
	lib.share_access(null, config.share_storage) == set()
}

test_claim_prefix_matches_only_the_prefix_followed_by_an_ordinal if {
	lib.claim_is_share("share-data-mpc-party-0", config.share_storage)
	lib.claim_is_share("share-data-mpc-party-12", config.share_storage)
	not lib.claim_is_share("share-data-mpc-party-delegate-0", config.share_storage)
	not lib.claim_is_share("share-data-mpc-party-", config.share_storage)
	not lib.claim_is_share("share-data-mpc-party-0a", config.share_storage)
	not lib.claim_is_share("share-data-mpc-party--1", config.share_storage)
	not lib.claim_is_share("data-share-data-mpc-party-0", config.share_storage)
	not lib.claim_is_share("other-data-mpc-party-0", config.share_storage)
}

test_a_delegate_statefulset_claim_sharing_the_prefix_is_not_share_access if {
	lib.share_access({"claims": ["share-data-mpc-party-delegate-0"]}, config.share_storage) == set()
}

test_empty_or_non_string_claim_prefix_matches_no_claim if {
	not lib.claim_is_share("0", {"claim_prefixes": ["", 7], "secret_names": []})
	lib.share_access({"claims": ["0", "anything"]}, {"claim_prefixes": [""], "secret_names": []}) == set()
}

test_secret_names_match_exactly if {
	lib.secret_is_share("mpc-db", config.share_storage)
	not lib.secret_is_share("mpc-db-backup", config.share_storage)
	not lib.secret_is_share("MPC-DB", config.share_storage)
}

test_share_clones_name_the_share_claims_a_claim_is_cloned_from if {
	obj := {"clones": [
		{"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"},
		{"kind": "PersistentVolumeClaim", "name": "scratch-0"},
		{"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-delegate-0"},
		{"kind": "VolumeSnapshot", "name": "share-data-mpc-party-1"},
	]}
	lib.share_clones(obj, config.share_storage) == {"PersistentVolumeClaim share-data-mpc-party-0"}
}

test_share_clones_are_empty_when_absent_or_malformed if {
	lib.share_clones({}, config.share_storage) == set()
	lib.share_clones({"clones": "share-data-mpc-party-0"}, config.share_storage) == set()
	lib.share_clones(null, config.share_storage) == set()
}

# identity

test_break_glass_needs_membership_in_a_configured_group if {
	lib.break_glass(alice_breaking_glass, config.break_glass_groups)
	not lib.break_glass(alice, config.break_glass_groups)
	not lib.break_glass({"username": "alice"}, config.break_glass_groups)
	not lib.break_glass({}, config.break_glass_groups)
	not lib.break_glass(alice_breaking_glass, [])
}

# numbers and words

test_count_value_is_the_number_or_zero if {
	lib.count_value({"t": 2}, "t") == 2
	lib.count_value({"t": "2"}, "t") == 0
	lib.count_value({}, "t") == 0
	lib.count_value(null, "t") == 0
}

test_party_noun_is_singular_only_for_one if {
	lib.party_noun(1) == "party"
	lib.party_noun(0) == "parties"
	lib.party_noun(2) == "parties"
}
