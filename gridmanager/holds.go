package gridmanager

import (
	"fmt"
	"strings"
)

// HTCondor's EC2 hold codes (condor_holdcodes.h, htcondor-ec2.md §3.8).
const (
	codeGahpFailure         = 2
	codeEC2User             = 37
	codeEC2Internal         = 38
	codeEC2Admin            = 39
	codeEC2Connection       = 40
	codeEC2Server           = 41
	codeEC2PotentiallyLost  = 42
	subAttachFailedOurs     = 23 // not HTCondor's: tags, address or volume failed (§10.1 fix)
	subStartNotConfirmedOur = 24 // not HTCondor's: EC2_VM_START never confirmed (§10.5 fix)
)

// hold is one hold the grid manager puts on a job: HoldReason, code and subcode, and
// whether cleanup must stop at the hold (park) because the instance may still be running
// and the user has to decide (code 42).
type hold struct {
	Reason        string
	Code, SubCode int
	park          bool
}

func (h hold) Error() string { return fmt.Sprintf("%s (hold %d/%d)", h.Reason, h.Code, h.SubCode) }

// The fixed holds of §3.8, reasons exactly as HTCondor writes them.
var (
	holdNoPublicKey     = hold{Reason: "Public key file not defined", Code: codeEC2User, SubCode: 1}
	holdNoPrivateKey    = hold{Reason: "Private key file not defined", Code: codeEC2User, SubCode: 2}
	holdNotEC2          = hold{Reason: "GridResource not of type ec2", Code: codeEC2Internal, SubCode: 3}
	holdNoURL           = hold{Reason: "GridResource missing EC2 service URL", Code: codeEC2User, SubCode: 4}
	holdNoGridResource  = hold{Reason: "GridResource is not set in the job ad", Code: codeEC2Internal, SubCode: 5}
	holdNoGahp          = hold{Reason: "EC2_GAHP not defined", Code: codeEC2Admin, SubCode: 6}
	holdBadGridJobID    = hold{Reason: "GridJobId not of type ec2", Code: codeEC2Internal, SubCode: 7}
	holdCancelGaveUp    = hold{Reason: "Job cancel did not succeed after 3 tries, giving up.", Code: codeEC2PotentiallyLost, SubCode: 16, park: true}
	holdSpotCancelGave  = hold{Reason: "Spot job cancel did not succeed after 3 tries, giving up.", Code: codeEC2PotentiallyLost, SubCode: 18, park: true}
	holdSpotPurged      = hold{Reason: "Spot request purged; an instance may still be running.", Code: codeEC2PotentiallyLost, SubCode: 19, park: true}
	holdSpotCancelledBy = hold{Reason: "You, or somebody like you, cancelled this request.", Code: codeEC2User, SubCode: 20}
)

func holdErr(h hold) error { return h }

func holdAuth(text string) hold {
	return hold{Reason: "Failed to authenticate " + text + ".", Code: codeEC2User, SubCode: 9}
}

func holdKeypairType(serverType string) hold {
	return hold{Reason: "Can't use existing ssh keypair for server type " + serverType, Code: codeEC2User, SubCode: 10}
}

func holdKeypairCreate(msg string) hold {
	return hold{Reason: msg, Code: codeEC2Connection, SubCode: 11}
}

// holdKeypairReplace: the job's keypair kept coming back made with its key file missing
// (stReplaceKeyPair), or could not be destroyed to be made again. 40/11 as any keypair
// creation failure; the reason names the keypair and the file (never the key).
func holdKeypairReplace(name, file, last string) hold {
	msg := fmt.Sprintf("Keypair %s exists but its private key file %s is missing; replacing the keypair failed after %d tries", name, file, maxKeypairReplacements)
	if last != "" {
		msg += ": " + last
	}
	return holdKeypairCreate(msg)
}

func holdStart(msg string) hold { return hold{Reason: msg, Code: codeEC2Connection, SubCode: 12} }

func holdAbnormal(reason string) hold {
	return hold{Reason: "Abnormal instance termination: " + reason + ".", Code: codeEC2Server, SubCode: 13}
}

func holdUnknownReason(reason string) hold {
	return hold{Reason: "Unrecognized reason for instance termination: " + reason + ".  Treating as abnormal.", Code: codeEC2Server, SubCode: 14}
}

func holdCancel(msg string) hold {
	return hold{Reason: msg, Code: codeEC2PotentiallyLost, SubCode: 15, park: true}
}

func holdSpotStart(msg string) hold { return hold{Reason: msg, Code: codeEC2Connection, SubCode: 17} }

func holdSpotCancel(msg string) hold {
	return hold{Reason: msg, Code: codeEC2PotentiallyLost, SubCode: 17, park: true}
}

func holdSpotState(state string) hold {
	return hold{Reason: "Request status '" + state + "' unexpected in GM_SPOT_QUERY.", Code: codeEC2Internal, SubCode: 21}
}

func holdAttach(what, msg string) hold {
	return hold{Reason: fmt.Sprintf("Failed to %s after %d tries: %s", what, maxAttachTries, msg), Code: codeEC2Connection, SubCode: subAttachFailedOurs}
}

func holdStartUnconfirmed(msg string) hold {
	return hold{Reason: fmt.Sprintf("EC2_VM_START was not confirmed after %d tries: %s", maxStartTries, msg), Code: codeEC2Connection, SubCode: subStartNotConfirmedOur}
}

// Termination reasons (stateReason codes) of §3.2 step 6.
var (
	normalReasons = map[string]bool{
		"Client.InstanceInitiatedShutdown": true, "Client.UserInitiatedShutdown": true,
		"Server.SpotInstanceTermination": true, reasonPurged: true,
	}
	abnormalReasons = map[string]bool{
		"Server.InternalError": true, "Server.InsufficientInstanceCapacity": true,
		"Client.VolumeLimitExceeded": true, "Client.InternalError": true,
		"Client.InvalidSnapshot.NotFound": true,
	}
)

// reasonPurged is the reason given to an instance the cloud no longer lists.
const reasonPurged = "purged"

// terminationHold returns the hold a termination reason calls for, if any.
func terminationHold(reason string) (hold, bool) {
	switch {
	case reason == "" || normalReasons[reason]:
		return hold{}, false
	case abnormalReasons[reason]:
		return holdAbnormal(reason), true
	}
	return holdUnknownReason(reason), true
}

// errorString renders a gahp failure as HTCondor's getErrorString does: the message (or
// the code when there is none), with CR and LF written as the two characters \r and \n.
func errorString(fields []string) string {
	var s string
	switch {
	case len(fields) >= 3 && fields[2] != "":
		s = fields[2]
	case len(fields) >= 2:
		s = fields[1]
	default:
		s = "Unspecified gridmanager error"
	}
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
}
