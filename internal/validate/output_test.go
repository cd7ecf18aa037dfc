package validate_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpcguard/mpcguard/internal/validate"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// outputInput has a denial (document 2), a warning under party-role-required=warn would be the same object,
// a skipped document (1) and an unreadable one (3).
const outputInput = "replicaCount: 1\n---\n" + partyPodWithoutRole + "---\nkind: Pod\n"

func TestWriteSARIFHasTheRequiredShape(t *testing.T) {
	rep := validator(t, "ns").Bytes(t.Context(), "charts/out.yaml", []byte(outputInput))
	var buf bytes.Buffer
	require.NoError(t, validate.WriteSARIF(&buf, rep, "v1.2.3"))

	// The fields SARIF 2.1.0 requires (sarifLog: version, runs; run: tool.driver.name; result: message.text;
	// reportingDescriptor: id) and those GitHub code scanning reads (ruleId, level, physical location).
	var log struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name    string `json:"name"`
					Version string `json:"version"`
					Rules   []struct {
						ID               string `json:"id"`
						ShortDescription struct {
							Text string `json:"text"`
						} `json:"shortDescription"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
			Invocations []struct {
				ExecutionSuccessful bool `json:"executionSuccessful"`
				Notifications       []struct {
					Level   string `json:"level"`
					Message struct {
						Text string `json:"text"`
					} `json:"message"`
				} `json:"toolExecutionNotifications"`
			} `json:"invocations"`
		} `json:"runs"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &log), buf.String())
	assert.Equal(t, "2.1.0", log.Version)
	assert.Equal(t, "https://json.schemastore.org/sarif-2.1.0.json", log.Schema)
	require.Len(t, log.Runs, 1, "one run")
	run := log.Runs[0]
	assert.Equal(t, "mpcguard", run.Tool.Driver.Name)
	assert.Equal(t, "v1.2.3", run.Tool.Driver.Version)
	require.Len(t, run.Tool.Driver.Rules, len(vocab.Policies), "the rules are the built-in policies")
	for i, p := range vocab.Policies {
		assert.Equal(t, p.ID, run.Tool.Driver.Rules[i].ID)
		assert.Equal(t, p.Rule, run.Tool.Driver.Rules[i].ShortDescription.Text)
	}
	require.Len(t, run.Results, 1)
	r := run.Results[0]
	assert.Equal(t, vocab.PartyRoleRequired, r.RuleID)
	assert.Equal(t, vocab.PartyRoleRequired, run.Tool.Driver.Rules[r.RuleIndex].ID, "ruleIndex points at its rule")
	assert.Equal(t, "error", r.Level)
	assert.Contains(t, r.Message.Text, "charts/out.yaml:doc 2: party-role-required Pod ns/no-role: ")
	require.Len(t, r.Locations, 1)
	assert.Equal(t, "charts/out.yaml", r.Locations[0].PhysicalLocation.ArtifactLocation.URI)
	assert.Equal(t, 3, r.Locations[0].PhysicalLocation.Region.StartLine, "the start line of the document")
	require.Len(t, run.Invocations, 1)
	assert.False(t, run.Invocations[0].ExecutionSuccessful, "a document could not be read")
	require.Len(t, run.Invocations[0].Notifications, 1)
	assert.Equal(t, "error", run.Invocations[0].Notifications[0].Level)
	assert.Contains(t, run.Invocations[0].Notifications[0].Message.Text, "charts/out.yaml: document 3 (line 10)")
}

func TestWriteSARIFLevelsAndURIs(t *testing.T) {
	eng := validator(t, "ns")
	tests := map[string]struct {
		source, input, wantURI, wantLevel string
	}{
		"an absolute path is a file URI": {source: "/ci/out put.yaml", input: partyPodWithoutRole,
			wantURI: "file:///ci/out%20put.yaml", wantLevel: "error"},
		"a relative path is a relative URI reference": {source: "out.yaml", input: partyPodWithoutRole,
			wantURI: "out.yaml", wantLevel: "error"},
		"stdin has no physical location": {source: "<stdin>", input: partyPodWithoutRole, wantLevel: "error"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rep := eng.Bytes(t.Context(), tc.source, []byte(tc.input))
			var buf bytes.Buffer
			require.NoError(t, validate.WriteSARIF(&buf, rep, "dev"))
			var log struct {
				Runs []struct {
					Results []struct {
						Level     string `json:"level"`
						Locations []struct {
							Physical *struct {
								Artifact struct {
									URI string `json:"uri"`
								} `json:"artifactLocation"`
							} `json:"physicalLocation"`
							Logical []struct {
								FullyQualifiedName string `json:"fullyQualifiedName"`
							} `json:"logicalLocations"`
						} `json:"locations"`
					} `json:"results"`
				} `json:"runs"`
			}
			require.NoError(t, json.Unmarshal(buf.Bytes(), &log))
			require.Len(t, log.Runs[0].Results, 1)
			res := log.Runs[0].Results[0]
			assert.Equal(t, tc.wantLevel, res.Level)
			if tc.wantURI == "" {
				assert.Nil(t, res.Locations[0].Physical)
			} else {
				require.NotNil(t, res.Locations[0].Physical)
				assert.Equal(t, tc.wantURI, res.Locations[0].Physical.Artifact.URI)
			}
			require.Len(t, res.Locations[0].Logical, 1)
			assert.Equal(t, "Pod ns/no-role", res.Locations[0].Logical[0].FullyQualifiedName)
		})
	}
}

func TestWriteJUnitOneSuitePerFileOneCasePerObject(t *testing.T) {
	v := validator(t, "ns")
	rep := v.Bytes(t.Context(), "a.yaml", []byte(outputInput))
	other := v.Bytes(t.Context(), "b.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"))
	rep.Objects = append(rep.Objects, other.Objects...)
	var buf bytes.Buffer
	require.NoError(t, validate.WriteJUnit(&buf, rep))

	type message struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
	}
	type counts struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Skipped  int `xml:"skipped,attr"`
	}
	var got struct {
		counts
		Suites []struct {
			counts
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name     string    `xml:"name,attr"`
				Failures []message `xml:"failure"`
				Error    *message  `xml:"error"`
				Skipped  *message  `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &got), buf.String())
	assert.Equal(t, 4, got.Tests)
	assert.Equal(t, 1, got.Failures)
	assert.Equal(t, 1, got.Errors)
	assert.Equal(t, 1, got.Skipped)
	require.Len(t, got.Suites, 2, "one testsuite per file")
	a := got.Suites[0]
	assert.Equal(t, "a.yaml", a.Name)
	require.Len(t, a.Cases, 3)
	assert.Equal(t, "doc 2: Pod ns/no-role", a.Cases[0].Name)
	require.Len(t, a.Cases[0].Failures, 1, "one failure per denial")
	assert.Equal(t, vocab.PartyRoleRequired, a.Cases[0].Failures[0].Type)
	assert.Equal(t, "doc 3 (line 10)", a.Cases[1].Name)
	require.NotNil(t, a.Cases[1].Error)
	assert.Contains(t, a.Cases[1].Error.Message, "not a Kubernetes object")
	assert.Equal(t, "doc 1 (line 1)", a.Cases[2].Name)
	require.NotNil(t, a.Cases[2].Skipped)
	assert.Equal(t, "b.yaml", got.Suites[1].Name)
	require.Len(t, got.Suites[1].Cases, 1)
	assert.Empty(t, got.Suites[1].Cases[0].Failures, "an allowed object is a passing testcase")
}
