// Package analyze answers, from rendered manifests (and optionally the nodes, or the live placement of the
// party pods), whether an MPC system keeps its signing threshold through the failures and the maintenance a
// cluster sees: losing any one node, any one zone or any k nodes; whether a PodDisruptionBudget can block a
// node drain forever; whether the non-persistent parties could ever reach t; and, for a network whose
// parties are run by several operators in their own clusters, whether any single operator, cloud or region
// holds t persistent parties.
//
// Each answer is a Finding with an id, a verdict — ok, at-risk, or unknown when the inputs cannot decide,
// with the reason — and the numbers it rests on.
//
// The rule for signing: only persistent parties count. A session needs t parties, and the webhook's
// session-delegate-only-threshold policy requires every session to include at least one persistent party
// (delegate + temporary < t); delegates and temporary parties are stateless and hold no key share, so a
// failure that leaves fewer than t persistent parties running is treated as one that stops signing, whatever
// the other pools still run. Conversely, the non-persistent pools are checked on their own: if together they
// run t or more parties, only the webhook stands between them and a session without a persistent party.
//
// Placement is judged by the worst case the scheduling constraints allow, not by the scheduler's habits:
// required pod anti-affinity on kubernetes.io/hostname puts at most one party of a pool on a node, and
// preferred anti-affinity (or none) allows them all on one node. A topology spread constraint counts only
// when it is DoNotSchedule; ScheduleAnyway, like preferred anti-affinity, is a wish. With nodes known (a
// NodeList, or the cluster), the number of nodes and zones bounds what fits; with the cluster, the pods'
// actual nodes are used instead. Zones are per operator: two operators' clusters never share a node, and
// zone names of different cloud accounts need not be the same places.
//
// Package analyze does not read files or clusters itself: the command hands it objects decoded by
// internal/validate and, for a cluster, the nodes and pods it listed.
package analyze
