package native

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/mpcguard/mpcguard/policies/vocab"
)

// boundary is a request of the corpus and the answer it must get in deny mode: allowed (denied == ""), or
// denied by the policy denied.
type boundary struct {
	request string
	denied  string
}

// boundaries are requests on either side of a rule's boundary, keyed by what they show. The differential only
// finds where the webhook and the native policies disagree; these fail when both agree on a wrong answer.
func boundaries() map[string]boundary {
	origin := func(who *identity) string {
		return fmt.Sprintf("CREATE Pod as %s owner=StatefulSet %s selector=match role=persistent", who, sharePool)
	}
	comp := func(d int) string {
		return fmt.Sprintf(`CREATE MPCSession t=2 n=3 composition={"delegate":%d,"persistent":%d,"temporary":0}`, d, 3-d)
	}
	claim := func(who *identity, src string) string {
		return fmt.Sprintf("CREATE PersistentVolumeClaim as %s dataSource=%s", who, src)
	}
	return map[string]boundary{
		"a persistent pod of the pool created by the StatefulSet controller is allowed": {request: origin(statefulSetController)},
		"the same pod created by the controller manager's identity is allowed":          {request: origin(controllerManager)},
		"the same pod created by a user is denied":                                      {request: origin(alice), denied: vocab.PartyPersistentOrigin},
		"a persistent pod owned by another StatefulSet is denied, even from the controller": {
			request: fmt.Sprintf("CREATE Pod as %s owner=StatefulSet other selector=match role=persistent", statefulSetController), denied: vocab.PartyPersistentOrigin},
		"a delegate pod created by a user is allowed": {
			request: fmt.Sprintf("CREATE Pod as %s owner=none selector=match role=delegate", alice)},
		"t-1 non-persistent parties of a session are allowed":                      {request: comp(1)},
		"t non-persistent parties of a session are denied":                         {request: comp(2), denied: vocab.SessionDelegateOnlyThreshold},
		"a Binding with the role label is denied":                                  {request: "CREATE pods/binding labels role label", denied: vocab.PartyBindingLabels},
		"a legacy Binding with a party selector label is denied":                   {request: "CREATE bindings labels selector label", denied: vocab.PartyBindingLabels},
		"a Binding without party labels is allowed":                                {request: "CREATE pods/binding labels other label"},
		"a Binding with the role label in annotations is allowed":                  {request: "CREATE pods/binding annotations role label"},
		"a claim cloned from a share claim is denied":                              {request: claim(nil, "share claim"), denied: vocab.ShareStorageCopy},
		"a claim cloned from another claim is allowed":                             {request: claim(nil, "other claim")},
		"a claim cloned from a name that is not an ordinal of the pool is allowed": {request: claim(nil, "claim not ordinal")},
		"a claim cloned from a share claim while breaking glass is allowed":        {request: claim(aliceBreakingGlass, "share claim")},
		"a pod whose ephemeral volume clones a share claim is denied, even breaking glass": {
			request: fmt.Sprintf("CREATE Pod as %s with an ephemeral volume from share claim", aliceBreakingGlass), denied: vocab.ShareStorageCopy},
	}
}

// checkBoundaries requires each boundary's answer of the outcomes (one per request, in deny mode).
func checkBoundaries(t *testing.T, what string, reqs []request, outs []outcome) {
	t.Helper()
	for sentence, b := range boundaries() {
		i := slices.IndexFunc(reqs, func(r request) bool { return r.name == b.request })
		if i < 0 {
			t.Errorf("%s: the corpus has no request %q", sentence, b.request)
			continue
		}
		o := outs[i]
		switch {
		case b.denied == "" && !o.allowed():
			t.Errorf("%s: %s answered %q with %d %v (%s), not allowed", sentence, what, b.request, o.code, o.denied, o.message)
		case b.denied != "" && (o.code != http.StatusForbidden || !slices.Contains(o.denied, b.denied)):
			t.Errorf("%s: %s answered %q with %d %v (%s), not denied by %s", sentence, what, b.request, o.code, o.denied, o.message, b.denied)
		}
	}
}
