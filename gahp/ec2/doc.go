// Package ec2 implements the EC2_* GAHP commands on top of the EC2 Query API.
package ec2
