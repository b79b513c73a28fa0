package api

import "github.com/ec2grid/ec2grid/classad"

// EncodeCluster writes one cluster's job ads in SubmitRequest's compact form: common
// holds, in long form, the attributes every job binds alike (classad.SharedBindings),
// and own[j] what job j binds otherwise or in addition (its ProcId, a per-job key file).
// The daemon reads each job as common overlaid by own[j], the same ad it would read
// from ads[j].MarshalLong(), from a request a few percent of the size.
func EncodeCluster(ads []*classad.ClassAd) (common string, own []string) {
	shared := classad.SharedBindings(ads)
	own = make([]string, len(ads))
	for j, cp := range classad.ChainedCopies(ads, shared) {
		own[j] = cp.Own().MarshalLong()
	}
	return shared.MarshalLong(), own
}

// AddCluster appends one cluster of job ads to req in the compact form (EncodeCluster).
// Clusters added before as whole ads get an empty Common entry, which reads the same.
func (req *SubmitRequest) AddCluster(ads []*classad.ClassAd) {
	for len(req.Common) < len(req.Clusters) {
		req.Common = append(req.Common, "")
	}
	common, own := EncodeCluster(ads)
	req.Common = append(req.Common, common)
	req.Clusters = append(req.Clusters, own)
}
