package main

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// The HCL schema of the config file, block by block. Content checks bodies against these,
// so an unknown or misspelt key is an error at its own line and column, never ignored.
func topSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: optionalAttrs("flavor", "region", "zones", "boot_delay", "terminated_retention",
			"instance_user", "allow_root_instances"),
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "account", LabelNames: []string{"name"}},
			{Type: "image", LabelNames: []string{"id"}},
			{Type: "spot"},
			{Type: "faults"},
		},
	}
}

func accountSchema() *hcl.BodySchema {
	s := &hcl.BodySchema{Attributes: optionalAttrs("secret_access_key", "secret_access_key_file", "owner_id")}
	s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: "access_key_id", Required: true})
	return s
}

func imageSchema() *hcl.BodySchema {
	return &hcl.BodySchema{Attributes: optionalAttrs("name", "description", "architecture", "root_device_type", "virtualization_type")}
}

func spotSchema() *hcl.BodySchema {
	return &hcl.BodySchema{Attributes: optionalAttrs("initial_price", "min_price", "max_price", "step", "interval")}
}

func faultsSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: optionalAttrs("latency", "jitter", "profile", "internal_error_rate", "drop_after_act_rate", "consistency_delay"),
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "throttle", LabelNames: []string{"class"}},
			{Type: "insufficient_capacity"},
		},
	}
}

func throttleSchema() *hcl.BodySchema {
	return &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "rate", Required: true}, {Name: "burst", Required: true}}}
}

func capacitySchema() *hcl.BodySchema {
	return &hcl.BodySchema{Attributes: optionalAttrs("instance_type", "zone")}
}

func optionalAttrs(names ...string) []hcl.AttributeSchema {
	s := make([]hcl.AttributeSchema, len(names))
	for i, n := range names {
		s[i] = hcl.AttributeSchema{Name: n}
	}
	return s
}

// decoder reads a config body into a fileConfig, collecting every diagnostic rather than
// stopping at the first, so one run shows all the mistakes in a file.
type decoder struct{ diags hcl.Diagnostics }

// content checks body against schema.
func (d *decoder) content(body hcl.Body, schema *hcl.BodySchema) *hcl.BodyContent {
	c, diags := body.Content(schema)
	d.diags = append(d.diags, diags...)
	return c
}

// attr reads the optional attribute name as a Go value of type T (through the cty type
// ty), storing where its value was written in *rng. It returns nil when the attribute is
// absent or its value is wrong, which it reports.
func attr[T any](d *decoder, c *hcl.BodyContent, name string, ty cty.Type, rng *hcl.Range) *T {
	a := c.Attributes[name]
	if a == nil {
		return nil
	}
	r := a.Expr.Range()
	if rng != nil {
		*rng = r
	}
	// A nil evaluation context: the file is data, so variables and function calls are
	// errors (with their position) rather than something to evaluate.
	v, diags := a.Expr.Value(nil)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return nil
	}
	cv, err := convert.Convert(v, ty)
	if err != nil || cv.IsNull() || !cv.IsWhollyKnown() {
		d.diags = append(d.diags, diagAt(r, "Incorrect attribute value type",
			"Inappropriate value for attribute %q: %s required", name, ty.FriendlyName()))
		return nil
	}
	var out T
	if err := gocty.FromCtyValue(cv, &out); err != nil {
		d.diags = append(d.diags, diagAt(r, "Invalid value for "+name, "%s: %v", name, err))
		return nil
	}
	return &out
}

// decodeFile reads the top-level body of a config file.
func decodeFile(body hcl.Body) (*fileConfig, hcl.Diagnostics) {
	d := &decoder{}
	c := d.content(body, topSchema())
	fc := &fileConfig{}
	fc.Flavor = attr[string](d, c, "flavor", cty.String, &fc.FlavorRange)
	fc.Region = attr[string](d, c, "region", cty.String, &fc.RegionRange)
	fc.Zones = attr[[]string](d, c, "zones", cty.List(cty.String), &fc.ZonesRange)
	fc.BootDelay = attr[string](d, c, "boot_delay", cty.String, &fc.BootDelayRange)
	fc.TerminatedRetention = attr[string](d, c, "terminated_retention", cty.String, &fc.TerminatedRetentionRange)
	fc.InstanceUser = attr[string](d, c, "instance_user", cty.String, &fc.InstanceUserRange)
	fc.AllowRootInstances = attr[bool](d, c, "allow_root_instances", cty.Bool, nil)
	for _, b := range c.Blocks {
		switch b.Type {
		case "account":
			fc.Accounts = append(fc.Accounts, d.account(b))
		case "image":
			fc.Images = append(fc.Images, d.image(b))
		case "spot":
			if fc.Spot != nil {
				d.diags = append(d.diags, diagAt(b.DefRange, "Duplicate spot block", "only one spot block is allowed"))
				continue
			}
			fc.Spot = d.spot(b)
		case "faults":
			if fc.Faults != nil {
				d.diags = append(d.diags, diagAt(b.DefRange, "Duplicate faults block", "only one faults block is allowed"))
				continue
			}
			fc.Faults = d.faults(b)
		default:
			panic(fmt.Sprintf("config: block type %q is in the schema but not decoded", b.Type))
		}
	}
	return fc, d.diags
}

func (d *decoder) account(b *hcl.Block) accountBlock {
	c := d.content(b.Body, accountSchema())
	a := accountBlock{Name: b.Labels[0], NameRange: b.LabelRanges[0], DefRange: b.DefRange}
	if id := attr[string](d, c, "access_key_id", cty.String, &a.AccessKeyIDRange); id != nil {
		a.AccessKeyID = *id
	} else {
		a.AccessKeyIDRange = b.DefRange
	}
	a.SecretAccessKey = attr[string](d, c, "secret_access_key", cty.String, &a.SecretAccessKeyRange)
	a.SecretAccessKeyFile = attr[string](d, c, "secret_access_key_file", cty.String, &a.SecretAccessKeyFileRange)
	a.OwnerID = attr[string](d, c, "owner_id", cty.String, &a.OwnerIDRange)
	return a
}

func (d *decoder) image(b *hcl.Block) imageBlock {
	c := d.content(b.Body, imageSchema())
	im := imageBlock{ID: b.Labels[0], IDRange: b.LabelRanges[0]}
	im.Name = attr[string](d, c, "name", cty.String, nil)
	im.Description = attr[string](d, c, "description", cty.String, nil)
	im.Architecture = attr[string](d, c, "architecture", cty.String, &im.ArchitectureRange)
	im.RootDeviceType = attr[string](d, c, "root_device_type", cty.String, &im.RootDeviceTypeRange)
	im.VirtualizationType = attr[string](d, c, "virtualization_type", cty.String, &im.VirtualizationTypeRange)
	return im
}

func (d *decoder) spot(b *hcl.Block) *spotBlock {
	c := d.content(b.Body, spotSchema())
	s := &spotBlock{}
	s.InitialPrice = attr[float64](d, c, "initial_price", cty.Number, &s.InitialPriceRange)
	s.MinPrice = attr[float64](d, c, "min_price", cty.Number, &s.MinPriceRange)
	s.MaxPrice = attr[float64](d, c, "max_price", cty.Number, &s.MaxPriceRange)
	s.Step = attr[float64](d, c, "step", cty.Number, &s.StepRange)
	s.Interval = attr[string](d, c, "interval", cty.String, &s.IntervalRange)
	return s
}

func (d *decoder) faults(b *hcl.Block) *faultsBlock {
	c := d.content(b.Body, faultsSchema())
	f := &faultsBlock{}
	f.Latency = attr[string](d, c, "latency", cty.String, &f.LatencyRange)
	f.Jitter = attr[string](d, c, "jitter", cty.String, &f.JitterRange)
	f.Profile = attr[string](d, c, "profile", cty.String, &f.ProfileRange)
	f.InternalErrorRate = attr[float64](d, c, "internal_error_rate", cty.Number, &f.InternalErrorRateRange)
	f.DropAfterActRate = attr[float64](d, c, "drop_after_act_rate", cty.Number, &f.DropAfterActRateRange)
	f.ConsistencyDelay = attr[string](d, c, "consistency_delay", cty.String, &f.ConsistencyDelayRange)
	for _, blk := range c.Blocks {
		switch blk.Type {
		case "throttle":
			tc := d.content(blk.Body, throttleSchema())
			t := throttleBlock{Class: blk.Labels[0], ClassRange: blk.LabelRanges[0], RateRange: blk.DefRange, BurstRange: blk.DefRange}
			rate := attr[float64](d, tc, "rate", cty.Number, &t.RateRange)
			burst := attr[int](d, tc, "burst", cty.Number, &t.BurstRange)
			if rate == nil || burst == nil {
				continue // missing or mistyped: already reported
			}
			t.Rate, t.Burst = *rate, *burst
			f.Throttle = append(f.Throttle, t)
		case "insufficient_capacity":
			cc := d.content(blk.Body, capacitySchema())
			f.InsufficientCapacity = append(f.InsufficientCapacity, capacityBlock{
				InstanceType: attr[string](d, cc, "instance_type", cty.String, nil),
				Zone:         attr[string](d, cc, "zone", cty.String, nil),
				DefRange:     blk.DefRange,
			})
		default:
			panic(fmt.Sprintf("config: block type %q is in the schema but not decoded", blk.Type))
		}
	}
	return f
}
