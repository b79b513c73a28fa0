package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// statusAllTimes reads the probe passes from ec2_gahp's log at D_FULLDEBUG (the lines as
// zap's console encoder writes them), ignoring other commands and failed passes.
func TestStatusAllTimes(t *testing.T) {
	log := strings.Join([]string{
		`2026-11-23T17:22:35.960Z	debug	command done	{"pid": 1, "command": "EC2_VM_STATUS_ALL", "id": 7, "url": "http://127.0.0.1:1/", "took": "2.5s", "fields": 800000}`,
		`2026-11-23T17:22:35.961Z	debug	command done	{"pid": 1, "command": "EC2_VM_START", "id": 8, "url": "http://127.0.0.1:1/", "took": "3ms", "fields": 2}`,
		`2026-11-23T17:22:36.960Z	info	command failed	{"pid": 1, "command": "EC2_VM_STATUS_ALL", "id": 9, "url": "http://127.0.0.1:1/", "took": "570.5ms", "code": "E_CURL_IO", "error": "x"}`,
		`2026-11-23T17:22:37.960Z	debug	command done	{"pid": 1, "command": "EC2_VM_STATUS_ALL", "id": 10, "url": "http://127.0.0.1:1/", "took": "812.25ms", "fields": 800000}`,
		`not a log line`,
	}, "\n")
	got, err := statusAllTimes(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{2500 * time.Millisecond, 812250 * time.Microsecond}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := statusAllTimes(strings.NewReader(`command done {"command": "EC2_VM_STATUS_ALL", "took": "soon"}`)); err == nil {
		t.Error("an unreadable took: no error")
	}
}
