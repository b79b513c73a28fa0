package cloud

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// The spot market's defaults and the machinery's tuning.
const (
	// priceScale: prices are kept in millionths of a dollar, the six decimals EC2 shows
	// them with, so bids and prices compare exactly.
	priceScale = 1_000_000
	// The market's defaults (Config.Spot fields left at 0): EC2's spot prices for small
	// instance types sat around five cents, within one cent and twenty. A zero interval
	// keeps the price fixed, so a cloud nobody configured behaves predictably.
	defaultSpotInitial = 50_000
	defaultSpotMin     = 10_000
	defaultSpotMax     = 200_000
	defaultSpotStep    = 10_000
	// maxSpotPrice bounds bids and market prices (a million dollars an hour), far above
	// anything real, so price arithmetic never overflows.
	maxSpotPrice = 1_000_000 * priceScale
	// minSpotInterval is the shortest market interval: each move is one fsync'd
	// transaction, and a hundred milliseconds is already far faster than EC2's.
	minSpotInterval = 100 * time.Millisecond
	// spotTerminationNotice is how long before reclaiming an instance the metadata
	// service announces it (spot/instance-action): EC2's two minutes. A market that
	// moves faster gives one interval's notice instead, so a demo's reclaim happens
	// while the user watches.
	spotTerminationNotice = 2 * time.Minute
	// spotPoll is the longest the spot goroutine sleeps without evaluating requests: an
	// injected clock may jump, and instances end by other hands (TerminateInstances, a
	// script that exits) without telling it.
	spotPoll = 250 * time.Millisecond
	// spotHistoryLimit bounds the price history kept per instance type and zone. At a
	// one-minute interval that is some sixteen hours of moves; a fixed price has one point.
	spotHistoryLimit = 1000
	// maxSpotMarketTypes bounds the instance types with a market: the defaults below and
	// those requests name. It keeps a client naming endless types from growing the market.
	maxSpotMarketTypes = 256
	// defaultPriceHistoryPage is DescribeSpotPriceHistory's page without MaxResults, and
	// maxPriceHistoryPage its largest, EC2's figure.
	defaultPriceHistoryPage = 1000
	maxPriceHistoryPage     = 1000
	// spotIDLen is the length of the part of a spot request id after "sir-", as EC2's.
	spotIDLen = 8
	// The request types and the one interruption behaviour the cloud implements.
	spotOneTime    = "one-time"
	spotPersistent = "persistent"
	spotTerminate  = "terminate"
	// productLinuxVPC is the other product description EC2 lists Linux prices under.
	productLinuxVPC = "Linux/UNIX (Amazon VPC)"
)

// spotMarketTypes have a market from the start; the types spot requests name join them.
var spotMarketTypes = []string{"m1.small", "m1.medium", "m1.large", "t2.micro", "t3.micro", "t3.small",
	"t3.medium", "m5.large", "c5.large", "r5.large"}

// The spot request states, and the status codes and messages EC2 gives them.
const (
	spotOpen      = "open"
	spotActive    = "active"
	spotClosed    = "closed"
	spotCancelled = "cancelled"
	spotFailed    = "failed"

	codePendingEvaluation   = "pending-evaluation"
	codeNotScheduledYet     = "not-scheduled-yet"
	codePriceTooLow         = "price-too-low"
	codeCapacityUnavailable = "capacity-not-available"
	codeFulfilled           = "fulfilled"
	codeMarked              = "marked-for-termination"
	codeTerminatedByPrice   = "instance-terminated-by-price"
	codeTerminatedByUser    = "instance-terminated-by-user"
	codeTerminatedByService = "instance-terminated-by-service"
	codeCanceledRunning     = "request-canceled-and-instance-running"
	codeCanceledBefore      = "canceled-before-fulfillment"
	codeScheduleExpired     = "schedule-expired"
	codeBadParameters       = "bad-parameters"
)

var spotMessages = map[string]string{
	codePendingEvaluation:   "Your Spot request has been submitted for review, and is pending evaluation.",
	codeNotScheduledYet:     "Your Spot request will not be evaluated until the scheduled date.",
	codeCapacityUnavailable: "There is no capacity available that matches your request.",
	codeFulfilled:           "Your spot request is fulfilled.",
	codeMarked:              "Your Spot Instance is marked for termination because the request price is lower than the fulfillment price.",
	codeTerminatedByPrice:   "Your Spot Instance was terminated because your Spot request price is lower than the fulfillment price.",
	codeTerminatedByUser:    "Your Spot Instance was terminated by a user or by itself.",
	codeTerminatedByService: "Your Spot Instance was terminated by the service.",
	codeCanceledRunning:     "Your Spot request is canceled, but your instance is still running.",
	codeCanceledBefore:      "Your Spot request was canceled before it was fulfilled.",
	codeScheduleExpired:     "Your Spot request has expired because it was not fulfilled before the specified end date.",
}

// reasonSpotTermination is the stateReason of an instance reclaimed because the price
// rose above its bid, worded as EC2 words it.
var reasonSpotTermination = stateReason{"Server.SpotInstanceTermination", "Server.SpotInstanceTermination: Spot instance termination"}

var spotRequestIDPattern = regexp.MustCompile(`^sir-[0-9a-z]{8,17}$`)

// The spot buckets: the market (seed, epoch, last move), its price points, the requests.
var (
	bucketSpotMeta     = []byte("spot_meta")
	bucketSpotPrices   = []byte("spot_prices")   // <type>\x00<zone>\x00<unix nanos, 8 bytes BE> -> price
	bucketSpotRequests = []byte("spot_requests") // <seq, 8 bytes BE> -> spotRequest
	keySpotMarket      = []byte("market")
)

// errSpotUnchanged aborts a spot transaction that found nothing to do, so an idle poll
// writes (and fsyncs) nothing.
var errSpotUnchanged = errors.New("spot: nothing to change")

// price is an amount in millionths of a dollar.
type price int64

// String gives a price as EC2 shows it: dollars with six decimals.
func (p price) String() string {
	return fmt.Sprintf("%d.%06d", int64(p)/priceScale, int64(p)%priceScale)
}

// parsePrice reads a decimal dollar amount: positive, at most maxSpotPrice, rounded to
// a millionth.
func parsePrice(s string) (price, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 || f > maxSpotPrice/priceScale {
		return 0, false
	}
	p := price(math.Round(f * priceScale))
	return p, p > 0
}

// spotMarket is Config.Spot resolved: defaults filled, prices in millionths.
type spotMarket struct {
	initial, min, max, step price
	interval                time.Duration
}

// resolveSpotMarket fills Config.Spot's zero fields with the defaults, consistently with
// those set (a lone MaxPrice of 0.03 lowers the default initial price to it), and checks
// the result.
func resolveSpotMarket(m SpotMarket) (spotMarket, error) {
	var out spotMarket
	for _, f := range []struct {
		name string
		v    float64
		dst  *price
	}{{"initial price", m.InitialPrice, &out.initial}, {"min price", m.MinPrice, &out.min},
		{"max price", m.MaxPrice, &out.max}, {"step", m.Step, &out.step}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 || f.v > maxSpotPrice/priceScale {
			return out, fmt.Errorf("cloud config: spot %s %v is not a price", f.name, f.v)
		}
		*f.dst = price(math.Round(f.v * priceScale))
	}
	out.interval = m.Interval
	if out.interval < 0 || (out.interval > 0 && out.interval < minSpotInterval) {
		return out, fmt.Errorf("cloud config: spot interval %v: want 0 (a fixed price) or at least %v", out.interval, minSpotInterval)
	}
	if out.min == 0 {
		out.min = defaultSpotMin
		for _, p := range []price{out.initial, out.max} {
			if p > 0 {
				out.min = min(out.min, p)
			}
		}
	}
	if out.max == 0 {
		out.max = max(defaultSpotMax, out.min, out.initial)
	}
	if out.initial == 0 {
		out.initial = min(max(defaultSpotInitial, out.min), out.max)
	}
	if out.step == 0 {
		out.step = defaultSpotStep
	}
	if out.min > out.max || out.initial < out.min || out.initial > out.max {
		return out, fmt.Errorf("cloud config: spot prices: initial %v must lie within [min %v, max %v]", out.initial, out.min, out.max)
	}
	return out, nil
}

// spotKey names one market: an instance type in a zone.
type spotKey struct{ typ, zone string }

// pricePoint is one price, in force from at until the next point.
type pricePoint struct {
	at time.Time
	p  price
}

// spotMeta is the market's persistent state.
type spotMeta struct {
	Seed  uint64    `json:"seed"`  // the random walk's seed, drawn once per state directory
	Epoch time.Time `json:"epoch"` // move k of the walk happens at Epoch + k·interval
	Tick  int64     `json:"tick"`  // the last move made
}

// spotSpec is a spot request's launch specification, as stored.
type spotSpec struct {
	ImageID      string        `json:"image"`
	InstanceType string        `json:"type"`
	KeyName      string        `json:"key,omitempty"`
	Zone         string        `json:"zone,omitempty"`
	SubnetID     string        `json:"subnet,omitempty"`
	PrivateIP    string        `json:"private_ip,omitempty"`
	UserData     []byte        `json:"user_data,omitempty"`
	GroupNames   []string      `json:"groups,omitempty"`
	GroupIDs     []string      `json:"group_ids,omitempty"`
	IAM          *iamProfile   `json:"iam,omitempty"`
	Devices      []blockDevice `json:"devices,omitempty"`
	Monitoring   bool          `json:"monitoring,omitempty"`
	EbsOptimized bool          `json:"ebs_optimized,omitempty"`
}

// launch gives the launch specification of the instance that fulfils the request in
// zone. A spot instance's own shutdown terminates it: EC2 cannot stop a one-time spot
// instance, and the request needs its instance gone to move on.
func (sp *spotSpec) launch(zone string) *launchSpec {
	return &launchSpec{ImageID: sp.ImageID, InstanceType: sp.InstanceType, KeyName: sp.KeyName, Zone: zone,
		SubnetID: sp.SubnetID, PrivateIP: sp.PrivateIP, ShutdownBehavior: shutdownTerminate, MinCount: 1, MaxCount: 1,
		UserData: sp.UserData, GroupNames: sp.GroupNames, GroupIDs: sp.GroupIDs, IAM: sp.IAM, Devices: sp.Devices}
}

// spotStatus is a request's status: EC2's code for what happened last, its message, when.
type spotStatus struct {
	Code    string    `json:"code"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
}

// spotRequest is one spot instance request as stored. Records are values: a change
// builds a new value and swaps it in whole under Server.mu.
type spotRequest struct {
	Seq         uint64       `json:"seq"` // creation order: the store key and the page order
	ID          string       `json:"id"`
	Owner       string       `json:"owner"`
	Bid         price        `json:"bid"`
	Type        string       `json:"type"`
	State       string       `json:"state"`
	Status      spotStatus   `json:"status"`
	Fault       *stateReason `json:"fault,omitempty"` // why a failed request failed
	Created     time.Time    `json:"created"`
	ValidFrom   time.Time    `json:"valid_from,omitzero"`
	ValidUntil  time.Time    `json:"valid_until,omitzero"`
	LaunchGroup string       `json:"launch_group,omitempty"` // shown, not enforced
	AZGroup     string       `json:"az_group,omitempty"`     // shown, not enforced
	ClientToken string       `json:"client_token,omitempty"`
	Digest      string       `json:"digest,omitempty"` // of the parameters, for ClientToken replays
	Spec        spotSpec     `json:"spec"`
	InstanceID  string       `json:"instance,omitempty"` // the latest instance that fulfilled it
	Zone        string       `json:"zone,omitempty"`     // where that instance runs
}

// live reports whether the spot goroutine still watches the request: open requests wait
// for the price, active ones (and cancelled ones whose instance still runs) for reclaim.
func (r *spotRequest) live() bool {
	switch r.State {
	case spotOpen, spotActive:
		return true
	case spotCancelled:
		return r.Status.Code == codeCanceledRunning
	}
	return false
}

// setStatus gives the request a new status code (and EC2's message for it) at now.
func (r *spotRequest) setStatus(code string, now time.Time) {
	r.Status = spotStatus{Code: code, Message: spotMessages[code], Time: now}
}

// spotState is the market and every account's requests, guarded like the rest of the
// state (read under Server.mu, changed through mutate).
type spotState struct {
	market  spotMarket
	meta    spotMeta
	prices  map[spotKey][]pricePoint // each ascending by time, at most spotHistoryLimit
	types   []string                 // instance types with a market, in the order they joined
	list    []*spotRequest           // by Seq
	byID    map[string]*spotRequest
	tokens  map[string]map[string][]string // owner → honoured ClientToken → request ids
	nextSeq uint64
	wake    chan struct{} // nudges the spot goroutine: a new request, a new price
}

func init() {
	register("RequestSpotInstances", requestSpotInstances)
	register("DescribeSpotInstanceRequests", describeSpotInstanceRequests)
	register("CancelSpotInstanceRequests", cancelSpotInstanceRequests)
	register("DescribeSpotPriceHistory", describeSpotPriceHistory)
	registerResource(resource{name: "spot", load: loadSpot, run: runSpot})
	registerKind(resourceKind{prefix: "sir-", typ: "spot-instances-request",
		exists: func(s *Server, owner, id string) bool {
			r := spotOf(s).byID[id]
			return r != nil && r.Owner == owner
		},
		notFound: errSpotNotFound,
	})
}

func spotOf(s *Server) *spotState { return extension[spotState](s) }

func errSpotNotFound(id string) *apiError {
	return clientError("InvalidSpotInstanceRequestID.NotFound", "The spot instance request ID '%s' does not exist", truncate(id))
}

// nudge wakes the spot goroutine.
func (st *spotState) nudge() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// current gives a market's price now, ok=false for a market that does not exist.
func (st *spotState) current(k spotKey) (price, bool) {
	pts := st.prices[k]
	if len(pts) == 0 {
		return 0, false
	}
	return pts[len(pts)-1].p, true
}

// priceKey is the spot_prices key of a point.
func priceKey(k spotKey, at time.Time) []byte {
	b := make([]byte, 0, len(k.typ)+len(k.zone)+10)
	b = append(append(append(append(b, k.typ...), 0), k.zone...), 0)
	return binary.BigEndian.AppendUint64(b, uint64(at.UnixNano()))
}

// addPoints stores new price points (each list ascending, after the market's last
// point) and gives the function that appends them in memory, dropping (and deleting)
// what falls beyond spotHistoryLimit. It runs inside mutate.
func (st *spotState) addPoints(tx *bolt.Tx, add map[spotKey][]pricePoint) (func(), error) {
	b := tx.Bucket(bucketSpotPrices)
	next := make(map[spotKey][]pricePoint, len(add))
	for k, pts := range add {
		for _, pt := range pts {
			if err := b.Put(priceKey(k, pt.at), []byte(strconv.FormatInt(int64(pt.p), 10))); err != nil {
				return nil, err
			}
		}
		all := append(slices.Clip(st.prices[k]), pts...)
		if drop := len(all) - spotHistoryLimit; drop > 0 {
			for _, pt := range all[:drop] {
				if err := b.Delete(priceKey(k, pt.at)); err != nil {
					return nil, err
				}
			}
			all = slices.Clone(all[drop:])
		}
		next[k] = all
	}
	return func() {
		for k, pts := range next {
			if _, known := st.prices[k]; !known && !slices.Contains(st.types, k.typ) {
				st.types = append(st.types, k.typ)
			}
			st.prices[k] = pts
		}
	}, nil
}

// laterThan gives at, or just after last if at is not later: a market's points stay in
// time order (and their keys distinct), whatever the clock did.
func laterThan(last, at time.Time) time.Time {
	if !at.After(last) {
		return last.Add(time.Nanosecond)
	}
	return at
}

// joinMarket gives the first points of the markets of typ in every zone that lacks one.
func (s *Server) joinMarket(st *spotState, typ string, now time.Time, add map[spotKey][]pricePoint) {
	for _, z := range s.cfg.Zones {
		k := spotKey{typ, z}
		if _, ok := st.prices[k]; !ok {
			add[k] = []pricePoint{{now, st.market.initial}}
		}
	}
}

// loadSpot reads the market and the requests, creating the market on first use, and
// puts the market right for the current config: a zone or type without prices starts at
// the initial price; a fixed market moves to the configured price; a moving one is
// brought within [min, max].
func loadSpot(s *Server, tx *bolt.Tx) error {
	market, err := resolveSpotMarket(s.cfg.Spot)
	if err != nil {
		return err
	}
	st := spotOf(s)
	*st = spotState{market: market, prices: map[spotKey][]pricePoint{}, byID: map[string]*spotRequest{},
		tokens: map[string]map[string][]string{}, nextSeq: 1, wake: make(chan struct{}, 1)}
	for _, name := range [][]byte{bucketSpotMeta, bucketSpotPrices, bucketSpotRequests} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	now := s.now()
	meta := tx.Bucket(bucketSpotMeta)
	if v := meta.Get(keySpotMarket); v != nil {
		if err := json.Unmarshal(v, &st.meta); err != nil {
			return fmt.Errorf("spot market record: %w", err)
		}
	} else {
		var seed [8]byte
		rand.Read(seed[:])
		st.meta = spotMeta{Seed: binary.BigEndian.Uint64(seed[:]), Epoch: now}
		if err := putJSON(meta, keySpotMarket, st.meta); err != nil {
			return err
		}
	}

	zones := map[string]bool{}
	for _, z := range s.cfg.Zones {
		zones[z] = true
	}
	err = tx.Bucket(bucketSpotPrices).ForEach(func(k, v []byte) error {
		parts := strings.SplitN(string(k), "\x00", 3)
		n, perr := strconv.ParseInt(string(v), 10, 64)
		if len(parts) != 3 || len(parts[2]) != 8 || perr != nil {
			return fmt.Errorf("spot price record %q: bad record", k)
		}
		key := spotKey{parts[0], parts[1]}
		if !zones[key.zone] {
			return nil // a zone no longer configured
		}
		at := time.Unix(0, int64(binary.BigEndian.Uint64([]byte(parts[2])))).UTC()
		st.prices[key] = append(st.prices[key], pricePoint{at, price(n)})
		return nil
	})
	if err != nil {
		return err
	}
	for k, pts := range st.prices {
		slices.SortFunc(pts, func(a, b pricePoint) int { return a.at.Compare(b.at) })
		st.prices[k] = pts[max(0, len(pts)-spotHistoryLimit):]
	}
	// Types in the order they joined: the defaults, then by first price.
	var others []spotKey
	for k := range st.prices {
		if !slices.Contains(spotMarketTypes, k.typ) {
			others = append(others, k)
		}
	}
	slices.SortFunc(others, func(a, b spotKey) int {
		return cmp.Or(st.prices[a][0].at.Compare(st.prices[b][0].at), strings.Compare(a.typ, b.typ))
	})
	st.types = slices.Clone(spotMarketTypes)
	for _, k := range others {
		if !slices.Contains(st.types, k.typ) {
			st.types = append(st.types, k.typ)
		}
	}

	add := map[spotKey][]pricePoint{}
	for _, typ := range st.types {
		s.joinMarket(st, typ, now, add)
	}
	for k, pts := range st.prices {
		cur := pts[len(pts)-1]
		want := cur.p
		if market.interval == 0 {
			want = market.initial
		} else {
			want = min(max(want, market.min), market.max)
		}
		if want != cur.p {
			add[k] = []pricePoint{{laterThan(cur.at, now), want}}
		}
	}
	apply, err := st.addPoints(tx, add)
	if err != nil {
		return err
	}
	apply()

	err = tx.Bucket(bucketSpotRequests).ForEach(func(k, v []byte) error {
		r := new(spotRequest)
		if err := json.Unmarshal(v, r); err != nil {
			return fmt.Errorf("spot request record %x: %w", k, err)
		}
		if len(k) != 8 || binary.BigEndian.Uint64(k) != r.Seq {
			return fmt.Errorf("spot request record %x: key and seq %d disagree", k, r.Seq)
		}
		st.insert(r)
		return nil
	})
	return err
}

// insert indexes a request (loading, or applying a new one under mu).
func (st *spotState) insert(r *spotRequest) {
	st.list = append(st.list, r)
	st.byID[r.ID] = r
	st.nextSeq = max(st.nextSeq, r.Seq+1)
	if r.ClientToken != "" {
		if st.tokens[r.Owner] == nil {
			st.tokens[r.Owner] = map[string][]string{}
		}
		st.tokens[r.Owner][r.ClientToken] = append(st.tokens[r.Owner][r.ClientToken], r.ID)
	}
}

func putSpotRequest(tx *bolt.Tx, r *spotRequest) error {
	return putJSON(tx.Bucket(bucketSpotRequests), seqKey(r.Seq), r)
}

// newSpotID makes a fresh request id: "sir-" and eight lower-case letters and digits,
// as EC2's.
func newSpotID(st *spotState) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	for {
		b := make([]byte, spotIDLen)
		rand.Read(b)
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		if id := "sir-" + string(b); st.byID[id] == nil {
			return id
		}
	}
}

// runSpot moves the market and evaluates the requests until ctx ends.
func runSpot(ctx context.Context, s *Server) {
	st := spotOf(s)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-st.wake:
		case <-timer.C:
		}
		now := s.now()
		if err := s.moveSpotMarket(now); err != nil {
			s.log.Error("spot: cannot store the market's move; retrying", zap.Error(err))
		}
		if err := s.evaluateSpot(now); err != nil {
			s.log.Error("spot: cannot store request changes; retrying", zap.Error(err))
		}
		wait := spotPoll
		if m := st.market; m.interval > 0 {
			s.mu.RLock()
			next := st.meta.Epoch.Add(time.Duration(st.meta.Tick+1) * m.interval)
			s.mu.RUnlock()
			wait = min(wait, max(next.Sub(now), time.Millisecond))
		}
		timer.Reset(wait)
	}
}

// walkStep is one move of a market's seeded random walk: a uniform draw in
// [-step, +step] (rounded to a millionth), clamped to [min, max]. The draw mixes the
// seed, the market and the move's number, so the walk needs no generator state and a
// restarted cloud continues it exactly.
func walkStep(m spotMarket, seed uint64, k spotKey, tick int64, cur price) price {
	h := fnv.New64a()
	h.Write([]byte(k.typ))
	h.Write([]byte{0})
	h.Write([]byte(k.zone))
	x := mix64(seed ^ mix64(h.Sum64()) ^ mix64(uint64(tick)))
	u := float64(x>>11)/(1<<53)*2 - 1
	next := cur + price(math.Round(u*float64(m.step)))
	return min(max(next, m.min), m.max)
}

// mix64 is SplitMix64's finalizer: every input bit flips each output bit with even odds.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// moveSpotMarket makes the market's moves due by now, in one transaction. Moves missed
// while the cloud was down (or the clock jumped) are made too, as far back as the
// history keeps.
func (s *Server) moveSpotMarket(now time.Time) error {
	st := spotOf(s)
	m := st.market
	if m.interval == 0 {
		return nil
	}
	err := s.mutate(func(tx *bolt.Tx) (func(), error) {
		due := int64(now.Sub(st.meta.Epoch) / m.interval)
		if due <= st.meta.Tick {
			return nil, errSpotUnchanged
		}
		from := max(st.meta.Tick+1, due-spotHistoryLimit+1)
		add := map[spotKey][]pricePoint{}
		for k, pts := range st.prices {
			last := pts[len(pts)-1]
			for tick := from; tick <= due; tick++ {
				if next := walkStep(m, st.meta.Seed, k, tick, last.p); next != last.p {
					last = pricePoint{laterThan(last.at, st.meta.Epoch.Add(time.Duration(tick)*m.interval)), next}
					add[k] = append(add[k], last)
				}
			}
		}
		apply, err := st.addPoints(tx, add)
		if err != nil {
			return nil, err
		}
		meta := st.meta
		meta.Tick = due
		if err := putJSON(tx.Bucket(bucketSpotMeta), keySpotMarket, meta); err != nil {
			return nil, err
		}
		return func() {
			apply()
			st.meta = meta
		}, nil
	})
	if errors.Is(err, errSpotUnchanged) {
		return nil
	}
	return err
}

// spotChange is a request's next value; instChange an instance's.
type spotChange struct {
	cur  *spotRequest
	next spotRequest
}

type instChange struct {
	cur  *instance
	next instance
}

// evaluateSpot does what is due for every live request, in one transaction: open
// requests are fulfilled (bid at least the price in the cheapest zone allowed), expire
// or wait; instances whose price rose above their bid are given notice
// (SpotTerminationTime, which the metadata service shows) and, once it has passed, are
// reclaimed: shutting-down with Server.SpotInstanceTermination, the one-time request
// closed, the persistent one open again. Requests whose instance ended by other means
// move on as EC2's do. Ended requests vanish after TerminatedRetention.
func (s *Server) evaluateSpot(now time.Time) error {
	st := spotOf(s)
	// Most polls find nothing to do: see so under the read lock, holding no writer off.
	s.mu.RLock()
	idle := !slices.ContainsFunc(st.list, func(r *spotRequest) bool {
		return r.live() || now.Sub(r.Status.Time) > s.cfg.TerminatedRetention
	})
	s.mu.RUnlock()
	if idle {
		return nil
	}
	var newInsts, halted []*instance
	var kill []string
	err := s.mutate(func(tx *bolt.Tx) (func(), error) {
		newInsts, halted, kill = nil, nil, nil
		var reqs []spotChange
		var insts []instChange
		var purge []*spotRequest
		for _, r := range st.list {
			if !r.live() {
				if now.Sub(r.Status.Time) > s.cfg.TerminatedRetention {
					purge = append(purge, r)
				}
				continue
			}
			n := *r
			var in *instance
			if r.InstanceID != "" && r.State != spotOpen {
				in = s.mem.byID[r.InstanceID]
			}
			switch {
			case r.State == spotOpen:
				if inst := s.fulfilSpot(&n, now); inst != nil {
					newInsts = append(newInsts, inst)
				}
			case in == nil || in.State == stateShuttingDown || in.State == stateTerminated:
				code := codeTerminatedByService
				if in != nil && in.StateReason == reasonSpotTermination {
					code = codeTerminatedByPrice
				} else if in != nil && strings.HasPrefix(in.StateReason.Code, "Client.") {
					code = codeTerminatedByUser
				}
				s.spotInstanceEnded(&n, code, now)
			case !in.SpotTerminationTime.IsZero() && !now.Before(in.SpotTerminationTime):
				ni := *in
				ni.gen++
				ni.State, ni.Since, ni.StateReason, ni.Reason = stateShuttingDown, now, reasonSpotTermination, ""
				if ni.Proc {
					ni.Proc = false
					kill = append(kill, ni.ID)
				}
				insts = append(insts, instChange{in, ni})
				s.spotInstanceEnded(&n, codeTerminatedByPrice, now)
			case in.SpotTerminationTime.IsZero() && (in.State == statePending || in.State == stateRunning):
				if p, ok := st.current(spotKey{r.Spec.InstanceType, r.Zone}); ok && p > r.Bid {
					ni := *in
					ni.SpotTerminationTime = now.Add(st.notice())
					insts = append(insts, instChange{in, ni})
					if n.State == spotActive {
						n.setStatus(codeMarked, now)
					}
				}
			}
			if n.State != r.State || n.Status.Code != r.Status.Code || n.Status.Message != r.Status.Message || n.InstanceID != r.InstanceID {
				reqs = append(reqs, spotChange{r, n})
			}
		}
		if len(reqs) == 0 && len(insts) == 0 && len(purge) == 0 {
			return nil, errSpotUnchanged
		}
		for i := range reqs {
			if err := putSpotRequest(tx, &reqs[i].next); err != nil {
				return nil, err
			}
		}
		for _, r := range purge {
			if err := tx.Bucket(bucketSpotRequests).Delete(seqKey(r.Seq)); err != nil {
				return nil, err
			}
			if err := putTags(tx, r.Owner, r.ID, nil); err != nil {
				return nil, err
			}
		}
		for i := range insts {
			if err := putInstances(tx, &insts[i].next); err != nil {
				return nil, err
			}
		}
		applyNew, err := s.storeNewInstances(tx, newInsts, nil)
		if err != nil {
			return nil, err
		}
		return func() {
			applyNew()
			for _, c := range reqs {
				*c.cur = c.next
			}
			for _, c := range insts {
				*c.cur = c.next
				if c.next.State == stateShuttingDown {
					halted = append(halted, c.cur)
				}
			}
			st.remove(purge, s)
		}, nil
	})
	if errors.Is(err, errSpotUnchanged) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, id := range kill {
		s.procs.kill(id)
	}
	s.mu.RLock()
	sched := make([]*instance, 0, len(newInsts)+len(halted))
	for _, in := range slices.Concat(newInsts, halted) {
		c := *in
		sched = append(sched, &c)
	}
	s.mu.RUnlock()
	s.schedule(sched)
	return nil
}

// notice is how long before reclaim an instance is told.
func (st *spotState) notice() time.Duration {
	if st.market.interval > 0 {
		return min(spotTerminationNotice, st.market.interval)
	}
	return spotTerminationNotice
}

// spotInstanceEnded moves a request on once its instance has ended: a one-time request
// closes, a persistent one opens again (unless past ValidUntil), a cancelled one stays
// cancelled; each with the code that says why.
func (s *Server) spotInstanceEnded(n *spotRequest, code string, now time.Time) {
	switch {
	case n.State == spotCancelled:
	case n.Type == spotPersistent && (n.ValidUntil.IsZero() || now.Before(n.ValidUntil)):
		n.State = spotOpen
	default:
		n.State = spotClosed
	}
	n.setStatus(code, now)
}

// fulfilSpot evaluates an open request n (a copy, changed in place) and gives the
// instance that fulfils it, if the price allows; the caller holds writeMu, inside mutate.
func (s *Server) fulfilSpot(n *spotRequest, now time.Time) *instance {
	st := spotOf(s)
	switch {
	case !n.ValidUntil.IsZero() && !now.Before(n.ValidUntil):
		n.State = spotClosed
		n.setStatus(codeScheduleExpired, now)
		return nil
	case !n.ValidFrom.IsZero() && now.Before(n.ValidFrom):
		if n.Status.Code != codeNotScheduledYet {
			n.setStatus(codeNotScheduledYet, now)
		}
		return nil
	}
	if _, ok := s.images[n.Spec.ImageID]; !ok {
		n.State = spotFailed
		n.setStatus(codeBadParameters, now)
		n.Status.Message = fmt.Sprintf("The parameters in your Spot request are not valid: the image id '%s' does not exist.", n.Spec.ImageID)
		n.Fault = &stateReason{Code: "InvalidAMIID.NotFound", Message: fmt.Sprintf("The image id '[%s]' does not exist", n.Spec.ImageID)}
		return nil
	}
	zones := s.cfg.Zones
	if n.Spec.Zone != "" {
		zones = []string{n.Spec.Zone}
	}
	best, bestPrice, lowest, capacity, markets := "", price(0), price(math.MaxInt64), false, 0
	for _, z := range zones {
		p, ok := st.current(spotKey{n.Spec.InstanceType, z})
		if !ok {
			continue
		}
		markets++
		lowest = min(lowest, p)
		if p > n.Bid {
			continue
		}
		if s.inj.InsufficientCapacity(n.Spec.InstanceType, z) {
			capacity = true
			continue
		}
		if best == "" || p < bestPrice {
			best, bestPrice = z, p
		}
	}
	if markets == 0 { // its zone is no longer configured
		n.State = spotFailed
		n.setStatus(codeBadParameters, now)
		n.Status.Message = fmt.Sprintf("The parameters in your Spot request are not valid: there is no Spot market for %s in %s.", n.Spec.InstanceType, strings.Join(zones, ", "))
		n.Fault = &stateReason{Code: "InvalidParameterValue", Message: n.Status.Message}
		return nil
	}
	if best == "" {
		switch {
		case capacity:
			if n.Status.Code != codeCapacityUnavailable {
				n.setStatus(codeCapacityUnavailable, now)
			}
		case n.Status.Code == codeTerminatedByPrice:
			// Just reclaimed for its price: that stays the news until something changes.
		default:
			msg := fmt.Sprintf("Your Spot request price of %v is lower than the minimum required Spot request fulfillment price of %v.", n.Bid, lowest)
			if n.Status.Code != codePriceTooLow || n.Status.Message != msg {
				n.Status = spotStatus{Code: codePriceTooLow, Message: msg, Time: now}
			}
		}
		return nil
	}
	list := s.buildInstances(n.Owner, n.Spec.launch(best), 1, now)
	in := list[0]
	in.Lifecycle, in.SpotRequestID, in.ClientToken = "spot", n.ID, ""
	n.State, n.InstanceID, n.Zone = spotActive, in.ID, best
	n.setStatus(codeFulfilled, now)
	return in
}

// remove drops purged requests from the index, with their tags and client tokens; under mu.
func (st *spotState) remove(purge []*spotRequest, s *Server) {
	if len(purge) == 0 {
		return
	}
	for _, r := range purge {
		delete(st.byID, r.ID)
		if o := s.mem.ownerOrNil(r.Owner); o != nil {
			delete(o.tags, r.ID)
		}
		if toks := st.tokens[r.Owner]; r.ClientToken != "" && toks != nil {
			ids := slices.DeleteFunc(toks[r.ClientToken], func(id string) bool { return id == r.ID })
			if len(ids) == 0 {
				delete(toks, r.ClientToken)
			} else {
				toks[r.ClientToken] = ids
			}
		}
	}
	st.list = slices.DeleteFunc(st.list, func(r *spotRequest) bool { return slices.Contains(purge, r) })
}

// parseSpotTime reads ValidFrom/ValidUntil: ISO 8601 as the SDKs send it.
func parseSpotTime(p params, name string) (time.Time, *apiError) {
	v := p.get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
	if err != nil {
		return time.Time{}, clientError("InvalidParameterValue", "Invalid value '%s' for %s: expecting an ISO 8601 time.", truncate(v), name)
	}
	return t.UTC(), nil
}

// parseSpotRequest reads RequestSpotInstances' parameters (all but ClientToken and the
// checks that need state).
func (s *Server) parseSpotRequest(p params, owner string, now time.Time) (r *spotRequest, count int, aerr *apiError) {
	r = &spotRequest{Owner: owner, Type: p.get("Type"), LaunchGroup: p.get("LaunchGroup"), AZGroup: p.get("AvailabilityZoneGroup"), Created: now}
	if v := p.get("SpotPrice"); v == "" {
		// Newer EC2 takes no bid as "up to the on-demand price": here the market's maximum,
		// so such a request is never reclaimed.
		r.Bid = spotOf(s).market.max
	} else if r.Bid, _ = parsePrice(v); r.Bid == 0 {
		return nil, 0, clientError("InvalidParameterValue", "Invalid value '%s' for spotPrice: expecting a positive price in dollars.", truncate(v))
	}
	switch r.Type {
	case "":
		r.Type = spotOneTime
	case spotOneTime, spotPersistent:
	default:
		return nil, 0, clientError("InvalidParameterValue", "Invalid value '%s' for type: expecting one-time or persistent.", truncate(r.Type))
	}
	count, has, aerr := p.integer("InstanceCount")
	if aerr != nil {
		return nil, 0, aerr
	}
	if !has {
		count = 1
	}
	if count < 1 || count > maxInstancesPerRun {
		return nil, 0, clientError("InvalidParameterValue", "Value (%d) for parameter instanceCount is invalid. Expecting a value between 1 and %d.", count, maxInstancesPerRun)
	}
	if b := p.get("InstanceInterruptionBehavior"); b != "" && b != spotTerminate {
		return nil, 0, clientError("InvalidParameterValue", "Interruption behavior '%s' is not supported by this cloud; use terminate.", truncate(b))
	}
	if r.ValidFrom, aerr = parseSpotTime(p, "ValidFrom"); aerr != nil {
		return nil, 0, aerr
	}
	if r.ValidUntil, aerr = parseSpotTime(p, "ValidUntil"); aerr != nil {
		return nil, 0, aerr
	}
	switch {
	case !r.ValidUntil.IsZero() && !r.ValidUntil.After(now):
		return nil, 0, clientError("InvalidParameterValue", "validUntil must be in the future.")
	case !r.ValidUntil.IsZero() && !r.ValidFrom.IsZero() && !r.ValidFrom.Before(r.ValidUntil):
		return nil, 0, clientError("InvalidParameterValue", "validFrom must be before validUntil.")
	}

	const pre = "LaunchSpecification."
	ls, aerr := s.parseLaunch(p, pre, owner)
	if aerr != nil {
		return nil, 0, aerr
	}
	// The network interface HTCondor's gahp sends to place an instance at a private
	// address: its subnet, address and groups stand for the specification's own.
	for _, i := range p.indexes(pre + "NetworkInterface") {
		k := func(m string) string { return sub(pre+"NetworkInterface", i, m) }
		if dev := p.get(k("DeviceIndex")); dev != "" && dev != "0" {
			continue
		}
		if subnet := p.get(k("SubnetId")); subnet != "" {
			if ls.SubnetID != "" && ls.SubnetID != subnet {
				return nil, 0, errCombination("Network interfaces and an instance-level subnet ID may not be specified on the same request")
			}
			if !subnetPattern.MatchString(subnet) {
				return nil, 0, clientError("InvalidSubnetID.Malformed", "Invalid id: \"%s\"", truncate(subnet))
			}
			ls.SubnetID = subnet
		}
		if ip := p.get(k("PrivateIpAddress")); ip != "" {
			a, err := netip.ParseAddr(ip)
			if err != nil || !a.Is4() || !a.IsPrivate() {
				return nil, 0, clientError("InvalidParameterValue", "Invalid private IP address %s", truncate(ip))
			}
			ls.PrivateIP = a.String()
		}
		for _, g := range nonEmpty(p.list(k("SecurityGroupId"))) {
			if !groupIDPattern.MatchString(g) {
				return nil, 0, clientError("InvalidGroupId.Malformed", "Invalid id: \"%s\"", truncate(g))
			}
			ls.GroupIDs = append(ls.GroupIDs, g)
		}
	}
	if ls.PrivateIP != "" && count > 1 {
		return nil, 0, errCombination("A private IP address cannot be given for more than one instance")
	}
	monitoring, aerr := p.boolean(pre + "Monitoring.Enabled")
	if aerr != nil {
		return nil, 0, aerr
	}
	ebsOpt, aerr := p.boolean(pre + "EbsOptimized")
	if aerr != nil {
		return nil, 0, aerr
	}
	r.Spec = spotSpec{ImageID: ls.ImageID, InstanceType: ls.InstanceType, KeyName: ls.KeyName, Zone: ls.Zone,
		SubnetID: ls.SubnetID, PrivateIP: ls.PrivateIP, UserData: ls.UserData, GroupNames: ls.GroupNames,
		GroupIDs: ls.GroupIDs, IAM: ls.IAM, Devices: ls.Devices, Monitoring: monitoring, EbsOptimized: ebsOpt}
	return r, count, nil
}

// requestSpotInstances makes InstanceCount requests, each for one instance, open and
// pending evaluation (the spot goroutine evaluates them at once). A ClientToken is
// honoured as RunInstances' is, in the flavors that honour it.
func requestSpotInstances(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	proto, count, aerr := s.parseSpotRequest(p, rq.owner(), rq.now)
	if aerr != nil {
		return aerr
	}
	tags, aerr := tagSpecs(p, "spot-instances-request")
	if aerr != nil {
		return aerr
	}
	token := p.get("ClientToken")
	if len(token) > maxClientToken {
		return clientError("InvalidParameterValue", "Value (%s) for parameter clientToken is invalid. Length exceeds maximum of %d characters.", truncate(token), maxClientToken)
	}
	if !s.flavor.honoursClientToken {
		token = ""
	}
	digest := ""
	if token != "" {
		digest = launchDigest(p)
	}
	st := spotOf(s)
	var made []*spotRequest
	var replay []string
	var views []spotView
	err := s.mutate(func(tx *bolt.Tx) (func(), error) {
		made, replay, views = nil, nil, nil
		if ids := st.tokens[rq.owner()][token]; token != "" && len(ids) > 0 {
			if st.byID[ids[0]].Digest != digest {
				return nil, clientError("IdempotentParameterMismatch", "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
			}
			replay = ids
			return nil, nil
		}
		if kn := proto.Spec.KeyName; kn != "" {
			if o := s.mem.ownerOrNil(rq.owner()); o == nil || o.keys[kn] == nil {
				return nil, clientError("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", truncate(kn))
			}
		}
		add := map[spotKey][]pricePoint{}
		if !slices.Contains(st.types, proto.Spec.InstanceType) {
			if len(st.types) >= maxSpotMarketTypes {
				return nil, clientError("InvalidParameterValue", "There is no Spot market for instance type %s.", proto.Spec.InstanceType)
			}
			s.joinMarket(st, proto.Spec.InstanceType, rq.now, add)
		}
		applyPrices, err := st.addPoints(tx, add)
		if err != nil {
			return nil, err
		}
		seq := st.nextSeq
		taken := map[string]bool{}
		for range count {
			r := *proto
			r.Seq, r.ID, r.ClientToken, r.Digest = seq, newSpotID(st), token, digest
			for taken[r.ID] {
				r.ID = newSpotID(st)
			}
			taken[r.ID] = true
			seq++
			r.State = spotOpen
			r.setStatus(codePendingEvaluation, rq.now)
			if err := putSpotRequest(tx, &r); err != nil {
				return nil, err
			}
			if err := putTags(tx, r.Owner, r.ID, tags); err != nil {
				return nil, err
			}
			made = append(made, &r)
		}
		return func() {
			applyPrices()
			for _, r := range made {
				st.insert(r)
				if len(tags) > 0 {
					s.mem.owner(r.Owner).tags[r.ID] = tags
				}
				// Answered as made: the spot goroutine may fulfil them before the answer
				// is written, and EC2 answers a new request open.
				views = append(views, spotView{spotRequest: *r, tags: tags})
			}
		}, nil
	})
	if err != nil {
		return err
	}
	st.nudge()
	if replay != nil {
		s.mu.RLock()
		for _, id := range replay {
			if r := st.byID[id]; r != nil {
				views = append(views, s.spotViewOf(r))
			}
		}
		s.mu.RUnlock()
	}
	s.writeSpotRequests(w, views)
	return nil
}

// spotView is a request copied out from under mu with its tags, to filter and render.
type spotView struct {
	spotRequest
	tags []tag
}

func (s *Server) spotViewOf(r *spotRequest) spotView {
	return spotView{spotRequest: *r, tags: s.tagsOf(r.Owner, r.ID)}
}

// writeSpotRequests writes a spotInstanceRequestSet.
func (s *Server) writeSpotRequests(w *xmlWriter, views []spotView) {
	if len(views) == 0 {
		w.empty("spotInstanceRequestSet")
		return
	}
	w.open("spotInstanceRequestSet")
	for i := range views {
		w.open("item")
		s.writeSpotRequest(w, &views[i])
		w.close("item")
	}
	w.close("spotInstanceRequestSet")
}

// writeSpotRequest writes the members of one SpotInstanceRequest.
func (s *Server) writeSpotRequest(w *xmlWriter, v *spotView) {
	r := &v.spotRequest
	w.text("spotInstanceRequestId", r.ID)
	w.text("spotPrice", r.Bid.String())
	w.text("type", r.Type)
	w.text("state", r.State)
	if r.Fault != nil {
		w.open("fault")
		w.text("code", r.Fault.Code)
		w.text("message", r.Fault.Message)
		w.close("fault")
	}
	w.open("status")
	w.text("code", r.Status.Code)
	w.time("updateTime", r.Status.Time)
	w.text("message", r.Status.Message)
	w.close("status")
	if !r.ValidFrom.IsZero() {
		w.time("validFrom", r.ValidFrom)
	}
	if !r.ValidUntil.IsZero() {
		w.time("validUntil", r.ValidUntil)
	}
	w.opt("launchGroup", r.LaunchGroup)
	w.opt("availabilityZoneGroup", r.AZGroup)
	sp := &r.Spec
	w.open("launchSpecification")
	w.text("imageId", sp.ImageID)
	w.opt("keyName", sp.KeyName)
	s.writeGroups(w, groupsFor(r.Owner, sp.launch("")))
	w.text("instanceType", sp.InstanceType)
	w.open("placement")
	w.opt("availabilityZone", sp.Zone)
	w.text("tenancy", "default")
	w.close("placement")
	if len(sp.Devices) > 0 {
		w.open("blockDeviceMapping")
		for _, d := range sp.Devices {
			w.open("item")
			w.text("deviceName", d.DeviceName)
			w.opt("virtualName", d.VirtualName)
			if d.NoDevice {
				w.empty("noDevice")
			} else if d.VirtualName == "" {
				w.open("ebs")
				w.opt("snapshotId", d.SnapshotID)
				if d.VolumeSize > 0 {
					w.int("volumeSize", int64(d.VolumeSize))
				}
				w.bool("deleteOnTermination", d.DeleteOnTermination)
				w.opt("volumeType", d.VolumeType)
				w.close("ebs")
			}
			w.close("item")
		}
		w.close("blockDeviceMapping")
	}
	w.opt("subnetId", sp.SubnetID)
	if sp.IAM != nil {
		w.open("iamInstanceProfile")
		w.text("arn", sp.IAM.Arn)
		w.close("iamInstanceProfile")
	}
	w.open("monitoring")
	w.bool("enabled", sp.Monitoring)
	w.close("monitoring")
	w.bool("ebsOptimized", sp.EbsOptimized)
	w.close("launchSpecification")
	w.opt("instanceId", r.InstanceID)
	w.time("createTime", r.Created)
	w.text("productDescription", productLinux)
	writeTagSet(w, v.tags)
	w.opt("launchedAvailabilityZone", r.Zone)
	w.text("instanceInterruptionBehavior", spotTerminate)
}

// spotFields are DescribeSpotInstanceRequests' filters.
var spotFields = map[string]func(spotView) []string{
	"spot-instance-request-id":   one(func(v spotView) string { return v.ID }),
	"state":                      one(func(v spotView) string { return v.State }),
	"status-code":                one(func(v spotView) string { return v.Status.Code }),
	"status-message":             one(func(v spotView) string { return v.Status.Message }),
	"type":                       one(func(v spotView) string { return v.Type }),
	"instance-id":                one(func(v spotView) string { return v.InstanceID }),
	"launch-group":               one(func(v spotView) string { return v.LaunchGroup }),
	"availability-zone-group":    one(func(v spotView) string { return v.AZGroup }),
	"launched-availability-zone": one(func(v spotView) string { return v.Zone }),
	"product-description":        one(func(spotView) string { return productLinux }),
	"create-time":                one(func(v spotView) string { return v.Created.UTC().Format(timeLayout) }),
	"fault-code": one(func(v spotView) string {
		if v.Fault == nil {
			return ""
		}
		return v.Fault.Code
	}),
	"spot-price": func(v spotView) []string {
		s := v.Bid.String()
		return []string{s, strings.TrimRight(strings.TrimRight(s, "0"), ".")}
	},
	"launch.image-id":      one(func(v spotView) string { return v.Spec.ImageID }),
	"launch.instance-type": one(func(v spotView) string { return v.Spec.InstanceType }),
	"launch.key-name":      one(func(v spotView) string { return v.Spec.KeyName }),
	"launch.group-id":      func(v spotView) []string { return groupFieldOf(v, func(g groupRef) string { return g.ID }) },
	"launch.group-name":    func(v spotView) []string { return groupFieldOf(v, func(g groupRef) string { return g.Name }) },
}

func groupFieldOf(v spotView, get func(groupRef) string) []string {
	var out []string
	for _, g := range groupsFor(v.Owner, v.Spec.launch("")) {
		out = append(out, get(g))
	}
	return out
}

// describeSpotInstanceRequests answers the account's requests in creation order, by id
// or by page, filtered.
func describeSpotInstanceRequests(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	ids := unique(nonEmpty(p.list("SpotInstanceRequestId")))
	for _, id := range ids {
		if !spotRequestIDPattern.MatchString(id) {
			return clientError("InvalidSpotInstanceRequestID.Malformed", "Invalid id: \"%s\"", truncate(id))
		}
	}
	fs, aerr := p.filters()
	if aerr != nil {
		return aerr
	}
	match, aerr := compileFilters(fs, spotFields)
	if aerr != nil {
		return aerr
	}
	maxResults, after, aerr := p.page("spotInstanceRequestIdSet", len(ids) > 0, minMaxResults, maxMaxResults)
	if aerr != nil {
		return aerr
	}
	st := spotOf(s)
	var views []spotView
	next := ""
	s.mu.RLock()
	var missing []string
	for _, id := range ids {
		if r := st.byID[id]; r == nil || r.Owner != rq.owner() {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		s.mu.RUnlock()
		if len(missing) == 1 {
			return errSpotNotFound(missing[0])
		}
		return clientError("InvalidSpotInstanceRequestID.NotFound", "The spot instance request IDs '%s' do not exist", truncate(strings.Join(missing, ", ")))
	}
	for _, r := range st.list {
		if r.Owner != rq.owner() || r.Seq <= after || (len(ids) > 0 && !slices.Contains(ids, r.ID)) {
			continue
		}
		v := s.spotViewOf(r)
		if !match(v, v.tags) {
			continue
		}
		if maxResults > 0 && len(views) == maxResults {
			next = encodePageToken(views[len(views)-1].Seq)
			break
		}
		views = append(views, v)
	}
	s.mu.RUnlock()
	s.writeSpotRequests(w, views)
	w.opt("nextToken", next)
	return nil
}

// cancelSpotInstanceRequests cancels requests, all or none: an open one is cancelled
// before fulfilment; an active one is cancelled and its instance left running (as on
// EC2: cancelling never terminates); closed, failed and cancelled ones stay as they are.
func cancelSpotInstanceRequests(s *Server, rq *request, w *xmlWriter) error {
	ids := unique(nonEmpty(rq.params.list("SpotInstanceRequestId")))
	if len(ids) == 0 {
		return errMissingParameter("SpotInstanceRequestId")
	}
	for _, id := range ids {
		if !spotRequestIDPattern.MatchString(id) {
			return clientError("InvalidSpotInstanceRequestID.Malformed", "Invalid id: \"%s\"", truncate(id))
		}
	}
	st := spotOf(s)
	states := make([]string, len(ids))
	err := s.mutate(func(tx *bolt.Tx) (func(), error) {
		var missing []string
		for _, id := range ids {
			if r := st.byID[id]; r == nil || r.Owner != rq.owner() {
				missing = append(missing, id)
			}
		}
		if len(missing) == 1 {
			return nil, errSpotNotFound(missing[0])
		} else if len(missing) > 1 {
			return nil, clientError("InvalidSpotInstanceRequestID.NotFound", "The spot instance request IDs '%s' do not exist", truncate(strings.Join(missing, ", ")))
		}
		var changes []spotChange
		for i, id := range ids {
			r := st.byID[id]
			n := *r
			switch r.State {
			case spotOpen:
				n.State = spotCancelled
				n.setStatus(codeCanceledBefore, rq.now)
			case spotActive:
				n.State = spotCancelled
				n.setStatus(codeCanceledRunning, rq.now)
			}
			states[i] = n.State
			if n.State != r.State {
				if err := putSpotRequest(tx, &n); err != nil {
					return nil, err
				}
				changes = append(changes, spotChange{r, n})
			}
		}
		return func() {
			for _, c := range changes {
				*c.cur = c.next
			}
		}, nil
	})
	if err != nil {
		return err
	}
	st.nudge()
	w.open("spotInstanceRequestSet")
	for i, id := range ids {
		w.open("item")
		w.text("spotInstanceRequestId", id)
		w.text("state", states[i])
		w.close("item")
	}
	w.close("spotInstanceRequestSet")
	return nil
}

// priceRow is one DescribeSpotPriceHistory item.
type priceRow struct {
	spotKey
	pricePoint
}

// cmpPriceRows orders the history as EC2 does: newest first (then by type and zone, so
// pages are stable).
func cmpPriceRows(a, b priceRow) int {
	if c := b.at.Compare(a.at); c != 0 {
		return c
	}
	if c := strings.Compare(a.typ, b.typ); c != 0 {
		return c
	}
	return strings.Compare(a.zone, b.zone)
}

// priceFields are DescribeSpotPriceHistory's filters.
var priceFields = map[string]func(priceRow) []string{
	"instance-type":       one(func(r priceRow) string { return r.typ }),
	"availability-zone":   one(func(r priceRow) string { return r.zone }),
	"product-description": func(priceRow) []string { return []string{productLinux, productLinuxVPC} },
	"spot-price": func(r priceRow) []string {
		s := r.p.String()
		return []string{s, strings.TrimRight(strings.TrimRight(s, "0"), ".")}
	},
	"timestamp": one(func(r priceRow) string { return r.at.UTC().Format(timeLayout) }),
}

// describeSpotPriceHistory answers the price history, newest first: for each market the
// points within [StartTime, EndTime], with the point in force at StartTime. Every price is
// for Linux/UNIX (also answered under "Linux/UNIX (Amazon VPC)"); other products have none.
func describeSpotPriceHistory(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	types := unique(nonEmpty(p.list("InstanceType"))) // boto 2 sends a bare InstanceType=
	for _, t := range types {
		if !instanceTypePattern.MatchString(t) {
			return clientError("InvalidParameterValue", "Invalid value '%s' for InstanceType.", truncate(t))
		}
	}
	product := productLinux
	if products := unique(nonEmpty(p.list("ProductDescription"))); len(products) > 0 {
		switch {
		case slices.Contains(products, productLinux):
		case slices.Contains(products, productLinuxVPC):
			product = productLinuxVPC
		default:
			product = ""
		}
	}
	zone := p.get("AvailabilityZone")
	if zone != "" && !slices.Contains(s.cfg.Zones, zone) {
		return clientError("InvalidParameterValue", "Invalid availability zone: [%s]", truncate(zone))
	}
	start, aerr := parseSpotTime(p, "StartTime")
	if aerr != nil {
		return aerr
	}
	end, aerr := parseSpotTime(p, "EndTime")
	if aerr != nil {
		return aerr
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		return clientError("InvalidParameterValue", "The end time must be after the start time.")
	}
	fs, aerr := p.filters()
	if aerr != nil {
		return aerr
	}
	match, aerr := compileFilters(fs, priceFields)
	if aerr != nil {
		return aerr
	}
	maxResults, hasMax, aerr := p.integer("MaxResults")
	if aerr != nil {
		return aerr
	}
	if !hasMax {
		maxResults = defaultPriceHistoryPage
	} else if maxResults < 1 || maxResults > maxPriceHistoryPage {
		return clientError("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value between 1 and %d.", maxResults, maxPriceHistoryPage)
	}
	var after *priceRow
	if tok := p.get("NextToken"); tok != "" {
		r, ok := decodePriceToken(tok)
		if !ok {
			return clientError("InvalidPaginationToken", "The specified pagination token is not valid or is expired.")
		}
		after = &r
	}

	var rows []priceRow
	if product != "" {
		st := spotOf(s)
		s.mu.RLock()
		for k, pts := range st.prices {
			if (len(types) > 0 && !slices.Contains(types, k.typ)) || (zone != "" && k.zone != zone) {
				continue
			}
			for i, pt := range pts {
				if !end.IsZero() && pt.at.After(end) {
					break
				}
				// Before StartTime only the point still in force at it.
				if !start.IsZero() && pt.at.Before(start) && i+1 < len(pts) && !pts[i+1].at.After(start) {
					continue
				}
				if r := (priceRow{k, pt}); match(r, nil) && (after == nil || cmpPriceRows(*after, r) < 0) {
					rows = append(rows, r)
				}
			}
		}
		s.mu.RUnlock()
	}
	slices.SortFunc(rows, cmpPriceRows)
	next := ""
	if len(rows) > maxResults {
		rows = rows[:maxResults]
		next = encodePriceToken(rows[len(rows)-1])
	}
	if len(rows) == 0 {
		w.empty("spotPriceHistorySet")
	} else {
		w.open("spotPriceHistorySet")
		for _, r := range rows {
			w.open("item")
			w.text("instanceType", r.typ)
			w.text("productDescription", product)
			w.text("spotPrice", r.p.String())
			w.time("timestamp", r.at)
			w.text("availabilityZone", r.zone)
			w.close("item")
		}
		w.close("spotPriceHistorySet")
	}
	w.opt("nextToken", next)
	return nil
}

// encodePriceToken makes the opaque NextToken that resumes the history after row r.
func encodePriceToken(r priceRow) string {
	b := binary.BigEndian.AppendUint64([]byte{pageTokenVersion}, uint64(r.at.UnixNano()))
	b = append(append(append(b, r.typ...), 0), r.zone...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePriceToken(tok string) (priceRow, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 11 || b[0] != pageTokenVersion {
		return priceRow{}, false
	}
	at := time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))).UTC()
	typ, zone, ok := strings.Cut(string(b[9:]), "\x00")
	if !ok || typ == "" || zone == "" {
		return priceRow{}, false
	}
	return priceRow{spotKey{typ, zone}, pricePoint{at: at}}, true
}
