// Package ec2 implements the EC2_* GAHP commands over the EC2 Query API: its one job is to
// turn each HTCondor-format request into aws-sdk-go-v2 calls and each outcome into the
// result line HTCondor's gridmanager reads.
//
// The pieces, one file each:
//
//   - api.go: the narrow interface of the SDK calls used, and the one SDK client kept per
//     (service URL, credentials), with the signing region taken from the URL's host.
//   - errors.go: every SDK error classified in one place (throttled, never sent, may have
//     acted, server fault, refused) and turned into HTCondor's error codes.
//   - call.go: the retry loop. The gahp owns retries: the SDK makes exactly one attempt per
//     call; throttling and errors that prove the cloud did not act are retried with
//     exponential backoff and jitter up to a deadline below the gridmanager's 600 s call
//     timeout; an attempt after which the cloud may have acted is never repeated for
//     EC2_VM_START, EC2_VM_START_SPOT and EC2_VM_CREATE_KEYPAIR.
//   - limiter.go: the adaptive per-endpoint token bucket.
//   - commands.go: the commands, their argument checks and result tuples.
//   - middleware.go: SDK stack changes (no invented ClientToken, free-form Query
//     parameters, the raw answer EC2_VM_SERVER_TYPE classifies, see servertype.go).
//   - keyfile.go: private keys written whole or not at all, 0600.
//   - ec2test: a fake EC2 endpoint for tests, with injectable faults, and moto launching.
//
// docs/ec2_gahp.md describes the protocol and every decision taken where HTCondor's
// behaviour is a bug or unspecified.
package ec2
