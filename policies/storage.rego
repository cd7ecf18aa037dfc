# METADATA
# title: storage policies
# description: |
#   PersistentVolumeClaims and VolumeSnapshots: a clone of a share claim, or a snapshot
#   of one, is a copy of a key share. Break-glass users may make one (a backup).
package mpcguard.storage

import data.mpcguard.lib

# METADATA
# title: config
# description: The mpcguard configuration (data.mpcguard.config).
config := data.mpcguard.config

# METADATA
# title: break glass
# description: The requesting user is in a break-glass group.
break_glass if lib.break_glass(input.user, config.break_glass_groups)

# METADATA
# title: share-storage-copy
# description: A PersistentVolumeClaim must not clone a share claim.
violation contains {"policy": "share-storage-copy", "msg": msg} if {
	lib.checks(input, "PersistentVolumeClaim")
	clones := lib.share_clones(input.claim, config.share_storage)
	count(clones) > 0
	not break_glass
	msg := sprintf("claim clones the persistent pool's share storage (%s); a copy of a key share outside the persistent pool is a leaked share (break glass: members of %s)", [
		concat(", ", sort(clones)),
		concat(", ", config.break_glass_groups),
	])
}

# METADATA
# title: share-storage-copy
# description: A VolumeSnapshot must not copy a share claim.
violation contains {"policy": "share-storage-copy", "msg": msg} if {
	lib.checks(input, "VolumeSnapshot")
	claim := input.snapshot.claim
	lib.claim_is_share(claim, config.share_storage)
	not break_glass
	msg := sprintf("snapshot copies the share claim %s; a copy of a key share outside the persistent pool is a leaked share (break glass: members of %s)", [
		claim,
		concat(", ", config.break_glass_groups),
	])
}

# METADATA
# title: share deleted
# description: |
#   What a DELETE removes of the share storage: a share PersistentVolumeClaim
#   (<prefix><ordinal>) or a share Secret.
share_deleted := "the claim holds a persistent party's key shares" if {
	input.operation == "DELETE"
	input.kind == "PersistentVolumeClaim"
	lib.claim_is_share(input.name, config.share_storage)
} else := "the Secret holds the persistent pool's key shares" if {
	input.operation == "DELETE"
	input.kind == "Secret"
	lib.secret_is_share(input.name, config.share_storage)
}

# METADATA
# title: share-deletion
# description: |
#   Share storage is deleted only by a member of the break-glass groups, on an
#   object annotated with the reason: a deleted share is a lost key.
violation contains {"policy": "share-deletion", "msg": msg} if {
	msg := lib.deletion_refused(input, share_deleted, config.break_glass_groups)
}

# METADATA
# title: share-deletion
# description: An allowed break-glass deletion of share storage is answered with a warning naming its reason.
violation contains {"policy": "share-deletion", "msg": msg, "notice": true} if {
	share_deleted
	msg := lib.deletion_granted(input, config.break_glass_groups)
}
