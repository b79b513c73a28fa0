// Package cloud is a local EC2-compatible endpoint speaking the EC2 Query API: the embedded
// default cloud for demos and the fault-injecting test bed. It imports nothing from jobs,
// gridmanager or gahp: it stands alone as a server.
package cloud
