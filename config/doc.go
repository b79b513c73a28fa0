// Package config resolves the daemon's knobs: HTCondor-named settings read from built-in
// defaults, then $EC2GRID_HOME/config.hcl, then EC2GRID_<NAME> environment variables, into
// one checked Config. docs/configuration.md lists every knob.
package config
