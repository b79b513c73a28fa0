package cloud

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
)

func TestGetConsoleOutput(t *testing.T) {
	tc := newTestCloud(t)
	idle := tc.run(1)[0]
	hi := tc.run(1, "UserData", script("#!/bin/sh\necho hi\n"), "InstanceInitiatedShutdownBehavior", "terminate")[0]
	tc.waitState(hi, "terminated")

	for _, c := range []struct {
		name   string
		as     Account
		args   []string
		output string // decoded
		code   string
	}{
		{"script output", alice, []string{"InstanceId", hi}, "hi\n", ""},
		{"latest flag", alice, []string{"InstanceId", hi, "Latest", "true"}, "hi\n", ""},
		{"no user-data process: empty, as before boot", alice, []string{"InstanceId", idle}, "", ""},
		{"another account's instance", bob, []string{"InstanceId", hi}, "", "InvalidInstanceID.NotFound"},
		{"unknown instance", alice, []string{"InstanceId", "i-0123456789abcdef0"}, "", "InvalidInstanceID.NotFound"},
		{"malformed id", alice, []string{"InstanceId", "vol-12345678"}, "", "InvalidInstanceID.Malformed"},
		{"no id", alice, nil, "", "MissingParameter"},
		{"bad latest", alice, []string{"InstanceId", hi, "Latest", "maybe"}, "", "InvalidParameterValue"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := tc.doAs(c.as, "GetConsoleOutput", c.args...)
			if c.code != "" {
				if r.status != http.StatusBadRequest || r.code() != c.code {
					t.Fatalf("want %s, got %s", c.code, r)
				}
				return
			}
			if r.status != http.StatusOK {
				t.Fatalf("GetConsoleOutput: %s", r)
			}
			out, err := base64.StdEncoding.DecodeString(r.root.get("output"))
			if err != nil || string(out) != c.output {
				t.Errorf("output %q (%v), want %q", out, err, c.output)
			}
			if !r.root.has("output") || r.root.get("instanceId") != c.args[1] {
				t.Errorf("answer: %s", r.body)
			}
			if ts, err := time.Parse(time.RFC3339, r.root.get("timestamp")); err != nil || ts.IsZero() {
				t.Errorf("timestamp %q", r.root.get("timestamp"))
			}
		})
	}
}

// TestConsoleOutputSurvivesRestart: the console of an instance whose process ran under a
// previous cloud is read from the file it left.
func TestConsoleOutputSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	a := startTestCloud(t, cfg)
	id := a.run(1, "UserData", script("#!/bin/sh\necho hi\n"), "InstanceInitiatedShutdownBehavior", "terminate")[0]
	a.waitState(id, "terminated")
	a.close()
	b := startTestCloud(t, cfg)
	r := b.ok("GetConsoleOutput", "InstanceId", id)
	if out, _ := base64.StdEncoding.DecodeString(r.root.get("output")); string(out) != "hi\n" {
		t.Errorf("console after restart %q", out)
	}
}

// TestSDKConsoleOutput: the acceptance case through aws-sdk-go-v2: a script
// `echo hi` ends with its instance terminated and the console "hi".
func TestSDKConsoleOutput(t *testing.T) {
	tc := newTestCloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	cli := sdkClient(tc, alice, "")
	run, err := cli.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		UserData: aws.String(script("#!/bin/sh\necho hi\n")), InstanceInitiatedShutdownBehavior: "terminate"})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	tc.waitState(id, "terminated")
	out, err := cli.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	text, err := base64.StdEncoding.DecodeString(aws.ToString(out.Output))
	if err != nil || string(text) != "hi\n" || aws.ToString(out.InstanceId) != id || out.Timestamp == nil {
		t.Errorf("GetConsoleOutput: %q %v %+v", text, err, out)
	}
	_, err = cli.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String("i-0123456789abcdef0")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidInstanceID.NotFound" {
		t.Errorf("unknown instance: %v", err)
	}
}
