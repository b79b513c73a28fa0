package ec2

import (
	"bytes"
	"strings"
)

// Server types EC2_VM_SERVER_TYPE reports. HTCondor's gridmanager trusts ClientToken only
// from Amazon and Nimbus, and "shutting-down" as final only from Amazon; any other type makes
// it track instances by a per-job key pair.
const (
	ServerAmazon     = "Amazon"
	ServerOpenStack  = "OpenStack"
	ServerNimbus     = "Nimbus"
	ServerEucalyptus = "Eucalyptus"
	ServerUnknown    = "Unknown"
)

// ServerType classifies an EC2 endpoint from a DescribeKeyPairs answer's Server header and
// body, with HTCondor's heuristic (AmazonVMServerType::SendRequest), so both gahps call a
// given server the same thing and the gridmanager treats it the same way.
func ServerType(serverHeader string, body []byte) string {
	amazon := strings.HasPrefix(serverHeader, "AmazonEC2")
	jetty := strings.HasPrefix(serverHeader, "Jetty")
	xml := bytes.Contains(body, []byte("<?xml "))
	encoding := bytes.Contains(body, []byte(`<?xml version="1.0" encoding="UTF-8"?>`))
	requestID := bytes.Contains(body, []byte("<requestId>"))
	euca := bytes.Contains(body, []byte("<euca:Describe"))
	switch {
	case amazon && !jetty && xml && encoding && requestID && !euca:
		return ServerAmazon
	case !amazon && !jetty && requestID && !euca && !encoding:
		return ServerOpenStack
	case jetty && xml && encoding && !requestID:
		return ServerNimbus
	case !xml && !requestID && euca:
		return ServerEucalyptus
	default:
		return ServerUnknown
	}
}
