package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestWebhookRejectsALogLevelDecisionLogBoundOrCacheSizeItDoesNotKnow(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-level=verbose"}, `log level "verbose": want one of [debug info error]`},
		{[]string{"--decision-log-burst=0"}, "--decision-log-burst must be at least 1, got 0"},
		{[]string{"--decision-log-rate=0"}, "--decision-log-rate must be above 0, got 0"},
		{[]string{"--decision-log-rate=NaN"}, "--decision-log-rate must be above 0, got NaN"},
		{[]string{"--decision-cache-size=-1"}, "--decision-cache-size must be 0 (off) or more, got -1"},
	} {
		code, _, stderr := runCLI(t, "", append([]string{"webhook", "--inventory=false", "--cert-dir", t.TempDir()}, tc.args...)...)
		assert.NotZero(t, code, "%v", tc.args)
		assert.Contains(t, stderr, tc.want, "%v", tc.args)
	}
}
