module github.com/ec2grid/ec2grid

go 1.26
