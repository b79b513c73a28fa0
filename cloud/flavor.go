package cloud

// flavor is how the cloud presents itself: the differences HTCondor's server-type ping
// (htcondor-ec2.md §2.8) looks at, and the ones its gridmanager acts on (§3.7).
type flavor struct {
	name string
	// honoursClientToken: AWS and Nimbus make RunInstances idempotent by ClientToken;
	// OpenStack's and Eucalyptus's EC2 frontends ignore it (so HTCondor tracks by key pair).
	honoursClientToken bool
	// serverHeader is the Server header, "" for none.
	serverHeader string
	// declaration opens every XML document, "" for none.
	declaration string
	// requestID: whether success bodies carry <requestId> (error bodies always carry
	// <RequestID>, and every answer the x-amzn-RequestId header).
	requestID bool
	// prefix is put before every element name of a success body ("euca:").
	prefix string
	// stoppedName is the name shown for the stopped state (OpenStack's nova said shutoff).
	stoppedName string
}

const (
	declWithEncoding = `<?xml version="1.0" encoding="UTF-8"?>`
	declBare         = `<?xml version="1.0"?>`
)

// flavorNamed gives a flavor's presentation (an unknown name is aws: Config checks names).
func flavorNamed(name string) flavor {
	switch name {
	case FlavorOpenStack:
		return flavor{name: name, declaration: declBare, requestID: true, stoppedName: "shutoff"}
	case FlavorNimbus:
		return flavor{name: name, honoursClientToken: true, serverHeader: "Jetty(6.1.26)",
			declaration: declWithEncoding, stoppedName: stateStopped}
	case FlavorEucalyptus:
		return flavor{name: name, prefix: "euca:", stoppedName: stateStopped}
	default:
		return flavor{name: FlavorAWS, honoursClientToken: true, serverHeader: "AmazonEC2",
			declaration: declWithEncoding, requestID: true, stoppedName: stateStopped}
	}
}
