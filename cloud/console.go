package cloud

import (
	"encoding/base64"
	"fmt"
)

func init() {
	register("GetConsoleOutput", getConsoleOutput)
}

// getConsoleOutput answers an instance's console: the last runner.ConsoleLimit bytes its
// user-data process wrote (stdout and stderr together), base64 as EC2 sends it. An
// instance that runs no process has an empty console, as an EC2 instance has before it
// boots; so has one of another account's, which is not found at all.
func getConsoleOutput(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	id := p.get("InstanceId")
	if id == "" {
		return errMissingParameter("InstanceId")
	}
	if !instanceIDPattern.MatchString(id) {
		return clientError("InvalidInstanceID.Malformed", "Invalid id: \"%s\"", truncate(id))
	}
	if _, aerr := p.boolean("Latest"); aerr != nil {
		return aerr
	}
	out, ok, err := s.consoleOutput(rq.owner(), id)
	if !ok {
		return errNotFound("InvalidInstanceID.NotFound", "instance", []string{id})
	}
	if err != nil {
		return fmt.Errorf("console of %s: %w", id, err)
	}
	w.text("instanceId", id)
	w.time("timestamp", rq.now)
	// An empty console is still answered as <output/>: clients then read "" rather than
	// a missing member.
	w.text("output", base64.StdEncoding.EncodeToString(out))
	return nil
}
