// Package gahp implements the GAHP line protocol, both sides: its one job is framing
// (escaping, tokenizing, reading lines, building request and result lines), the server loop
// that answers every line at once while queued workers run the requests, and the client the
// grid manager (and every test) uses to drive a GAHP server.
//
// The wire format is HTCondor's, read from its source (see docs/ec2_gahp.md):
//
//   - A line ends at an unescaped LF; an unescaped CR is dropped, so CRLF and LF both work.
//   - Tokens are separated by single unescaped spaces or tabs, and every separator ends a
//     token: two adjacent separators make an empty token.
//   - A backslash takes the next byte literally. Writers escape space, backslash, CR and LF.
//   - An empty or absent argument is sent as NULL, and NULL (any case) reads as "unset".
//   - The server first prints a banner ($GahpVersion ... $). Each request line is answered
//     at once with S (queued) or E (malformed, unknown, wrong argument count); results are
//     collected later with RESULTS, announced by a single R line in async mode.
package gahp
