// Package userlog writes and reads HTCondor user (event) logs, byte for byte in HTCondor's
// text format, so condor_wait and existing log parsers work unchanged.
package userlog
