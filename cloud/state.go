package cloud

import (
	"reflect"
	"sort"
	"sync"
	"time"
)

// Instance states, with the codes EC2 gives them (InstanceStateName in the EC2 model).
const (
	statePending      = "pending"
	stateRunning      = "running"
	stateShuttingDown = "shutting-down"
	stateTerminated   = "terminated"
	stateStopping     = "stopping"
	stateStopped      = "stopped"
)

// stateCode gives EC2's numeric code of a state (the low byte of instanceState/code).
func stateCode(state string) int {
	switch state {
	case statePending:
		return 0
	case stateRunning:
		return 16
	case stateShuttingDown:
		return 32
	case stateTerminated:
		return 48
	case stateStopping:
		return 64
	case stateStopped:
		return 80
	}
	return 0
}

// stateReason is an instance's stateReason: the code clients (HTCondor's gridmanager
// among them) act on, and EC2's message for it.
type stateReason struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// The state reasons EC2 gives, with its exact messages.
var (
	reasonPending          = stateReason{"pending", "pending"}
	reasonUserShutdown     = stateReason{"Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User initiated shutdown"}
	reasonInstanceShutdown = stateReason{"Client.InstanceInitiatedShutdown", "Client.InstanceInitiatedShutdown: Instance initiated shutdown"}
	reasonInternalError    = stateReason{"Server.InternalError", "Server.InternalError: Internal error on launch"}
)

// groupRef names a security group: EC2 shows both its id and its name.
type groupRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// blockDevice is one BlockDeviceMapping entry as launched.
type blockDevice struct {
	DeviceName          string `json:"device"`
	VirtualName         string `json:"virtual,omitempty"`
	NoDevice            bool   `json:"no_device,omitempty"`
	VolumeID            string `json:"volume,omitempty"` // set for EBS devices
	SnapshotID          string `json:"snapshot,omitempty"`
	VolumeSize          int    `json:"size,omitempty"`
	VolumeType          string `json:"type,omitempty"`
	DeleteOnTermination bool   `json:"delete_on_termination,omitempty"`
}

// iamProfile is the instance profile an instance was launched with.
type iamProfile struct {
	Arn string `json:"arn"`
	ID  string `json:"id"`
}

// instance is one instance as stored and served. Records are values: a change builds a
// new value and swaps it in whole under Server.mu, so a reader holding mu.RLock sees each
// instance consistent. Slices inside are never changed after launch.
type instance struct {
	Seq              uint64        `json:"seq"` // launch order, also the store key: DescribeInstances pages by it
	ID               string        `json:"id"`
	Owner            string        `json:"owner"` // the account's OwnerID
	ReservationID    string        `json:"reservation"`
	RequesterID      string        `json:"requester,omitempty"`
	ImageID          string        `json:"image"`
	InstanceType     string        `json:"type"`
	KeyName          string        `json:"key,omitempty"`
	OpenSSHKey       string        `json:"openssh_key,omitempty"` // the key's public half at launch, for the metadata service
	Zone             string        `json:"zone"`
	SubnetID         string        `json:"subnet,omitempty"`
	VpcID            string        `json:"vpc,omitempty"`
	PrivateIP        string        `json:"private_ip"`
	PublicIP         string        `json:"public_ip"`
	LaunchIndex      int           `json:"launch_index"`
	LaunchTime       time.Time     `json:"launch_time"`
	State            string        `json:"state"`
	Since            time.Time     `json:"since"` // when State was entered; lifecycle deadlines count from it
	StateReason      stateReason   `json:"state_reason"`
	Reason           string        `json:"reason,omitempty"`
	ShutdownBehavior string        `json:"shutdown_behavior"`
	ClientToken      string        `json:"client_token,omitempty"`
	Groups           []groupRef    `json:"groups,omitempty"`
	IAM              *iamProfile   `json:"iam,omitempty"`
	Devices          []blockDevice `json:"devices,omitempty"`
	UserData         []byte        `json:"user_data,omitempty"`
	Architecture     string        `json:"arch"`
	RootDeviceType   string        `json:"root_device_type"`
	VirtType         string        `json:"virt_type"`
	VisibleAt        time.Time     `json:"visible_at"` // eventual consistency: DescribeInstances ignores it before
	// Ran records that the user-data process was started: user data runs once per
	// instance, at first boot, as cloud-init runs it.
	Ran bool `json:"ran,omitempty"`
	// Proc records that a user-data process belongs to the current run; a restarted
	// cloud finding such an instance still running knows its process died with the
	// previous cloud.
	Proc bool `json:"proc,omitempty"`
	PID  int  `json:"pid,omitempty"` // the process (and its process group) once started

	// Spot instances (cloud/spot.go sets these).
	Lifecycle           string    `json:"lifecycle,omitempty"`
	SpotRequestID       string    `json:"spot_request,omitempty"`
	SpotTerminationTime time.Time `json:"spot_termination,omitzero"`

	gen    uint64 // bumped by every state change, so lifecycle events scheduled before it are ignored
	purged bool   // gone from the index (retention over); set under mu
}

// hasScript reports whether the user data is a script the cloud runs as the instance's
// workload ("#!" first, as cloud-init decides).
func (in *instance) hasScript() bool {
	return len(in.UserData) >= 2 && in.UserData[0] == '#' && in.UserData[1] == '!'
}

// keyPair is a stored key pair: EC2 keeps only the public half.
type keyPair struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Fingerprint string    `json:"fingerprint"`
	Type        string    `json:"type"`       // rsa or ed25519
	PublicKey   string    `json:"public_key"` // OpenSSH form, "ssh-rsa AAAA… name"
	Created     time.Time `json:"created"`
}

// tag is one key/value tag.
type tag struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// clientToken is one honoured RunInstances ClientToken: the reservation it made and a
// digest of the parameters it was made with.
type clientToken struct {
	Token         string   `json:"token"`
	ReservationID string   `json:"reservation"`
	Digest        string   `json:"digest"`
	Instances     []string `json:"instances"`
}

// ownerState is one account's resources.
type ownerState struct {
	list   []*instance // by Seq ascending; purged entries linger until compact
	dead   int         // purged entries in list
	tokens map[string]*clientToken
	keys   map[string]*keyPair // by name
	tags   map[string][]tag    // by resource id; each slice sorted by key, never changed in place
}

// memory is the in-memory index of all state: every read is served from it, every
// change is written to the store first and then applied here.
type memory struct {
	byID    map[string]*instance
	owners  map[string]*ownerState
	nextSeq uint64
}

func newMemory() memory {
	return memory{byID: map[string]*instance{}, owners: map[string]*ownerState{}, nextSeq: 1}
}

// owner gives owner's state, creating it (the caller holds mu for writing, or is loading).
func (m *memory) owner(id string) *ownerState {
	o := m.owners[id]
	if o == nil {
		o = &ownerState{tokens: map[string]*clientToken{}, keys: map[string]*keyPair{}, tags: map[string][]tag{}}
		m.owners[id] = o
	}
	return o
}

// ownerOrNil gives owner's state for reading, nil if it has none.
func (m *memory) ownerOrNil(id string) *ownerState { return m.owners[id] }

// insert adds a new instance; its Seq must exceed every Seq of its owner.
func (m *memory) insert(in *instance) {
	m.byID[in.ID] = in
	o := m.owner(in.Owner)
	o.list = append(o.list, in)
	if in.Seq >= m.nextSeq {
		m.nextSeq = in.Seq + 1
	}
}

// purge drops an instance from the index, its tags with it.
func (m *memory) purge(in *instance) {
	delete(m.byID, in.ID)
	in.purged = true
	o := m.owners[in.Owner]
	if o == nil {
		return
	}
	delete(o.tags, in.ID)
	o.dead++
	// Compact once half the list is dead, so purging costs amortized O(1) and pages never
	// walk far over dead entries.
	if o.dead > len(o.list)/2 {
		live := o.list[:0]
		for _, x := range o.list {
			if !x.purged {
				live = append(live, x)
			}
		}
		clear(o.list[len(live):])
		o.list = live
		o.dead = 0
	}
}

// after gives the index in o.list of the first instance with Seq > seq.
func (o *ownerState) after(seq uint64) int {
	return sort.Search(len(o.list), func(i int) bool { return o.list[i].Seq > seq })
}

// extensions holds one value per type for code in other files of this package (spot,
// addresses, volumes…) that needs state of its own without a field in Server.
type extensions struct {
	mu sync.Mutex
	m  map[reflect.Type]any
}

// extension gives s's single *T, creating a zero one on first use. Guard its contents
// with Server.mu / Server.writeMu like the rest of the state (see doc.go).
func extension[T any](s *Server) *T {
	s.ext.mu.Lock()
	defer s.ext.mu.Unlock()
	t := reflect.TypeFor[T]()
	if v, ok := s.ext.m[t]; ok {
		return v.(*T)
	}
	if s.ext.m == nil {
		s.ext.m = map[reflect.Type]any{}
	}
	v := new(T)
	s.ext.m[t] = v
	return v
}
