// Package gahp implements the GAHP line protocol (framing, escaping, request and result
// lines) shared by the ec2_gahp server and the grid manager's client.
package gahp
