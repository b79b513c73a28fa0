package cloud

import (
	"fmt"
	"strings"

	"github.com/ec2grid/ec2grid/cloud/imds"
)

// imdsSource tells the metadata service about instances. An instance has metadata from
// launch until it is terminated, as on EC2.
type imdsSource struct{ s *Server }

func (src imdsSource) Instance(id string) (imds.Instance, bool) {
	s := src.s
	s.mu.RLock()
	in := s.mem.byID[id]
	if in == nil || in.State == stateTerminated {
		s.mu.RUnlock()
		return imds.Instance{}, false
	}
	c := *in
	s.mu.RUnlock()
	names := make([]string, len(c.Groups))
	for i, g := range c.Groups {
		names[i] = g.Name
	}
	pubIP := ""
	if c.State == stateRunning {
		pubIP = c.PublicIP
	}
	return imds.Instance{
		InstanceID:          c.ID,
		ImageID:             c.ImageID,
		InstanceType:        c.InstanceType,
		AvailabilityZone:    c.Zone,
		Region:              s.cfg.Region,
		LocalIPv4:           c.PrivateIP,
		PublicIPv4:          pubIP,
		LocalHostname:       s.privateDNSName(c.PrivateIP),
		PublicHostname:      s.publicDNSName(pubIP),
		MAC:                 macFor(c.Seq),
		ReservationID:       c.ReservationID,
		SecurityGroups:      strings.Join(names, " "),
		KeyName:             c.KeyName,
		OpenSSHKey:          c.OpenSSHKey,
		UserData:            c.UserData,
		SpotTerminationTime: c.SpotTerminationTime,
	}, true
}

// macFor gives an instance's MAC address: locally administered (0e:), unique by launch order.
func macFor(seq uint64) string {
	return fmt.Sprintf("0e:%02x:%02x:%02x:%02x:%02x", byte(seq>>32), byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq))
}
