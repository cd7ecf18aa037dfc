// Package audit judges the objects already in a cluster with the policies the webhook enforces: every pod,
// workload (Deployment, StatefulSet, ReplicaSet, DaemonSet, Job, CronJob), PersistentVolumeClaim and MPCSession
// of the audited namespaces is reviewed as a CREATE by the same engine, with the cluster's party pod inventory,
// so an object admitted before mpcguard was installed (or while a policy only warned) is found.
//
// It only reads: list on the audited kinds. A one-shot audit (`mpcguard audit`) collects, evaluates and hands a
// validate.Report to validate's writers, so its output formats and exit codes are validate's. Runner audits on
// an interval inside the webhook process with exactly one replica active (a Lease, client-go's leader
// election), exports mpcguard_audit_violations{policy,namespace,kind} and the last run's time and duration, and
// writes one openreports.io/v1alpha1 Report per audited namespace, the API that Kyverno and Policy Reporter
// read (the successor of wgpolicyk8s.io's PolicyReport).
package audit
