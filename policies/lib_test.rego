package mpcguard.lib_test

import data.mpcguard.lib

# The default configuration, shared by every test package as data.mpcguard.lib_test.config.
config := {
	"role_label_key": "party-role",
	"party_selector": {"app.kubernetes.io/component": "mpc-party"},
	"allowed_roles": ["persistent", "delegate", "temporary"],
	"enforcement": {},
	"share_storage": {
		"secret_names": ["mpc-db"],
		"claim_prefixes": ["share-data-mpc-party-"],
	},
}

# A non-default configuration: another role label key, a two-label selector, another share storage.
custom_config := {
	"role_label_key": "signer.example.com/role",
	"party_selector": {"tier": "mpc", "app": "signer"},
	"allowed_roles": ["persistent", "delegate", "temporary"],
	"enforcement": {},
	"share_storage": {
		"secret_names": ["vault-shares"],
		"claim_prefixes": ["keys-"],
	},
}

# Labels of a party pod (default selector) with the given role.
party_labels(role) := {"app.kubernetes.io/component": "mpc-party", "party-role": role}

test_prefix_names_policy_kind_namespace_and_name if {
	lib.prefix("party-role-required", {"kind": "Pod", "namespace": "mpc-system", "name": "p-0"}) == "[party-role-required] Pod mpc-system/p-0: "
}

test_prefix_leaves_absent_parts_empty if {
	lib.prefix("party-role-required", {"kind": "Pod"}) == "[party-role-required] Pod /: "
}

test_prefix_of_a_malformed_request_names_only_the_policy if {
	lib.prefix("party-role-required", "not an object") == "[party-role-required] : "
}

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

test_share_mounts_are_sorted_claims_then_secrets if {
	obj := {
		"claims": ["share-data-mpc-party-1", "scratch", "share-data-mpc-party-0"],
		"secrets": ["tls", "mpc-db"],
	}
	lib.share_mounts(obj, config.share_storage) == [
		"PersistentVolumeClaim share-data-mpc-party-0",
		"PersistentVolumeClaim share-data-mpc-party-1",
		"Secret mpc-db",
	]
}

test_share_mounts_match_secret_names_exactly_and_claims_by_prefix if {
	obj := {"claims": ["data-share-data-mpc-party-0"], "secrets": ["mpc-db-backup"]}
	lib.share_mounts(obj, config.share_storage) == []
}

test_empty_claim_prefix_matches_no_claim if {
	lib.share_mounts({"claims": ["anything"]}, {"claim_prefixes": [""], "secret_names": []}) == []
}

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
