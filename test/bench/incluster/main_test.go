package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

func TestACPULimitIsSetOnTheWebhookAloneAndTheOtherStandInValuesStay(t *testing.T) {
	out, err := standInValues("1500m")
	require.NoError(t, err)
	var got, want map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(out), &got))
	require.NoError(t, yaml.Unmarshal([]byte(scenario.StandInValues), &want))
	mpcguard, ok := want["mpcguard"].(map[string]any)
	require.True(t, ok, "the stand-in values have an mpcguard section")
	wh, ok := mpcguard["webhook"].(map[string]any)
	if !ok { // the stand-in values leave the webhook's settings to the chart
		wh = map[string]any{}
		mpcguard["webhook"] = wh
	}
	wh["resources"] = map[string]any{"limits": map[string]any{"cpu": "1500m"}}
	assert.Equal(t, want, got)
}

func TestWithoutACPULimitTheStandInValuesAreUsedAsTheyAre(t *testing.T) {
	out, err := standInValues("")
	require.NoError(t, err)
	assert.Equal(t, scenario.StandInValues, out)
}

func TestACPULimitThatIsNotAQuantityIsRefused(t *testing.T) {
	_, err := standInValues("lots")
	assert.ErrorContains(t, err, "--webhook-cpu-limit")
}
