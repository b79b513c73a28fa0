package config

import (
	"testing"

	"github.com/ec2grid/ec2grid/submit"
)

// TestRefuseWritableKeyFilesKnob: the submit package names this knob in its refusals; the
// two spellings must not drift apart.
func TestRefuseWritableKeyFilesKnob(t *testing.T) {
	if knobRefuseWritableKeys != submit.RefuseWritableKeyFilesKnob {
		t.Errorf("config's knob %s, submit's %s", knobRefuseWritableKeys, submit.RefuseWritableKeyFilesKnob)
	}
}
