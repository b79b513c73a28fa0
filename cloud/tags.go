package cloud

import (
	"encoding/base64"
	"slices"
	"strings"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Tag limits, EC2's.
const (
	maxTagKey          = 128
	maxTagValue        = 256
	maxTagsPerResource = 50
	reservedTagPrefix  = "aws:"
)

func init() {
	register("CreateTags", createTags)
	register("DeleteTags", deleteTags)
	register("DescribeTags", describeTags)
	registerKind(resourceKind{prefix: "ami-", typ: "image",
		exists: func(s *Server, _, id string) bool { _, ok := s.images[id]; return ok },
		notFound: func(id string) *apiError {
			return clientError("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
		},
	})
}

// parseTags reads prefix.N.Key / prefix.N.Value. Later repeats of a key win.
func parseTags(p params, prefix string, needKey bool) ([]tag, *apiError) {
	var out []tag
	for _, n := range p.indexes(prefix) {
		key, value := p.get(sub(prefix, n, "Key")), p.get(sub(prefix, n, "Value"))
		if key == "" {
			if needKey {
				return nil, errMissingParameter(sub(prefix, n, "Key"))
			}
			continue
		}
		if utf8.RuneCountInString(key) > maxTagKey || !utf8.ValidString(key) {
			return nil, clientError("InvalidParameterValue", "Tag key exceeds the maximum length of %d characters", maxTagKey)
		}
		if utf8.RuneCountInString(value) > maxTagValue || !utf8.ValidString(value) {
			return nil, clientError("InvalidParameterValue", "Tag value exceeds the maximum length of %d characters", maxTagValue)
		}
		if strings.HasPrefix(strings.ToLower(key), reservedTagPrefix) {
			return nil, clientError("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
		}
		out = mergeTags(out, []tag{{key, value}})
	}
	return out, nil
}

// mergeTags gives a new sorted tag list: old with add's keys set (add wins).
func mergeTags(old, add []tag) []tag {
	out := make([]tag, 0, len(old)+len(add))
	out = append(out, old...)
	for _, t := range add {
		if i := slices.IndexFunc(out, func(o tag) bool { return o.Key == t.Key }); i >= 0 {
			out[i].Value = t.Value
		} else {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b tag) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func checkTagCount(tags []tag) *apiError {
	if len(tags) > maxTagsPerResource {
		return clientError("TagLimitExceeded", "The maximum number of Tags for a resource has been reached.")
	}
	return nil
}

func tagValue(tags []tag, key string) (string, bool) {
	for _, t := range tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// writeTagSet writes a tagSet of key/value items.
func writeTagSet(w *xmlWriter, tags []tag) {
	if len(tags) == 0 {
		w.empty("tagSet")
		return
	}
	w.open("tagSet")
	for _, t := range tags {
		w.open("item")
		w.text("key", t.Key)
		w.text("value", t.Value)
		w.close("item")
	}
	w.close("tagSet")
}

// tagsOf gives a resource's tags; the caller holds mu for reading.
func (s *Server) tagsOf(owner, id string) []tag {
	if o := s.mem.ownerOrNil(owner); o != nil {
		return o.tags[id]
	}
	return nil
}

// checkResources makes sure each id names an existing resource of the owner; the
// caller holds writeMu or mu.
func (s *Server) checkResources(owner string, ids []string) *apiError {
	for _, id := range ids {
		k, ok := kindOf(id)
		if !ok {
			return clientError("InvalidID", "The ID '%s' is not valid", truncate(id))
		}
		if !k.exists(s, owner, id) {
			return k.notFound(id)
		}
	}
	return nil
}

// retag stores new tag lists for resources and applies them, in one transaction.
func (s *Server) retag(owner string, ids []string, change func(old []tag) ([]tag, *apiError)) error {
	return s.mutate(func(tx *bolt.Tx) (func(), error) {
		if aerr := s.checkResources(owner, ids); aerr != nil {
			return nil, aerr
		}
		next := make([][]tag, len(ids))
		for i, id := range ids {
			tags, aerr := change(s.tagsOf(owner, id))
			if aerr != nil {
				return nil, aerr
			}
			if err := putTags(tx, owner, id, tags); err != nil {
				return nil, err
			}
			next[i] = tags
		}
		return func() {
			o := s.mem.owner(owner)
			for i, id := range ids {
				if len(next[i]) == 0 {
					delete(o.tags, id)
				} else {
					o.tags[id] = next[i]
				}
			}
		}, nil
	})
}

func createTags(s *Server, rq *request, w *xmlWriter) error {
	ids := unique(nonEmpty(rq.params.list("ResourceId")))
	if len(ids) == 0 {
		return errMissingParameter("ResourceId")
	}
	add, aerr := parseTags(rq.params, "Tag", true)
	if aerr != nil {
		return aerr
	}
	if len(add) == 0 {
		return errMissingParameter("Tag")
	}
	err := s.retag(rq.owner(), ids, func(old []tag) ([]tag, *apiError) {
		tags := mergeTags(old, add)
		return tags, checkTagCount(tags)
	})
	if err != nil {
		return err
	}
	w.bool("return", true)
	return nil
}

func deleteTags(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	ids := unique(nonEmpty(p.list("ResourceId")))
	if len(ids) == 0 {
		return errMissingParameter("ResourceId")
	}
	// Each Tag.N names a key, and with a Value (even empty) only that value is deleted.
	type del struct {
		key, value string
		anyValue   bool
	}
	var dels []del
	for _, n := range p.indexes("Tag") {
		key := p.get(sub("Tag", n, "Key"))
		if key == "" {
			return errMissingParameter(sub("Tag", n, "Key"))
		}
		dels = append(dels, del{key: key, value: p.get(sub("Tag", n, "Value")), anyValue: !p.has(sub("Tag", n, "Value"))})
	}
	err := s.retag(rq.owner(), ids, func(old []tag) ([]tag, *apiError) {
		if len(dels) == 0 {
			return nil, nil // no Tag.N: every tag goes, as on EC2
		}
		var out []tag
		for _, t := range old {
			if !slices.ContainsFunc(dels, func(d del) bool { return d.key == t.Key && (d.anyValue || d.value == t.Value) }) {
				out = append(out, t)
			}
		}
		return out, nil
	})
	if err != nil {
		return err
	}
	w.bool("return", true)
	return nil
}

// tagRow is one DescribeTags item.
type tagRow struct {
	id, typ string
	tag
}

// describeTags lists the account's tags in resource-id, key order, filtered and paged.
func describeTags(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	fs, aerr := p.filters()
	if aerr != nil {
		return aerr
	}
	for _, f := range fs {
		switch {
		case f.name == "resource-id", f.name == "resource-type", f.name == "key", f.name == "value":
		case strings.HasPrefix(f.name, "tag:") && len(f.name) > 4:
		default:
			return errUnknownFilter(f.name)
		}
	}
	maxResults, hasMax, aerr := p.integer("MaxResults")
	if aerr != nil {
		return aerr
	}
	if hasMax && (maxResults < minMaxResults || maxResults > maxMaxResults) {
		return clientError("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and %d.", maxResults, minMaxResults, maxMaxResults)
	}
	var afterID, afterKey string
	if tok := p.get("NextToken"); tok != "" {
		var ok bool
		afterID, afterKey, ok = decodeTagToken(tok)
		if !ok {
			return clientError("InvalidPaginationToken", "The specified pagination token is not valid or is expired.")
		}
	}
	match := func(r tagRow, all []tag) bool {
		for _, f := range fs {
			var ok bool
			switch f.name {
			case "resource-id":
				ok = matchAny(f.values, r.id)
			case "resource-type":
				ok = matchAny(f.values, r.typ)
			case "key":
				ok = matchAny(f.values, r.Key)
			case "value":
				ok = matchAny(f.values, r.Value)
			default: // tag:K — this row's resource has tag K with a matching value
				v, has := tagValue(all, f.name[4:])
				ok = has && matchAny(f.values, v)
			}
			if !ok {
				return false
			}
		}
		return true
	}

	var rows []tagRow
	next := ""
	s.mu.RLock()
	if o := s.mem.ownerOrNil(rq.owner()); o != nil {
		ids := make([]string, 0, len(o.tags))
		for id := range o.tags {
			if id >= afterID {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
	scan:
		for _, id := range ids {
			typ := ""
			if k, ok := kindOf(id); ok {
				typ = k.typ
			}
			all := o.tags[id]
			for _, t := range all {
				if id == afterID && t.Key <= afterKey {
					continue
				}
				r := tagRow{id: id, typ: typ, tag: t}
				if !match(r, all) {
					continue
				}
				if hasMax && len(rows) == maxResults {
					last := rows[len(rows)-1]
					next = encodeTagToken(last.id, last.Key)
					break scan
				}
				rows = append(rows, r)
			}
		}
	}
	s.mu.RUnlock()

	if len(rows) == 0 {
		w.empty("tagSet")
	} else {
		w.open("tagSet")
		for _, r := range rows {
			w.open("item")
			w.text("resourceId", r.id)
			w.text("resourceType", r.typ)
			w.text("key", r.Key)
			w.text("value", r.Value)
			w.close("item")
		}
		w.close("tagSet")
	}
	w.opt("nextToken", next)
	return nil
}

// encodeTagToken makes the opaque DescribeTags NextToken: the last resource and key
// returned (resource ids hold no NUL).
func encodeTagToken(id, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("1\x00" + id + "\x00" + key))
}

func decodeTagToken(tok string) (id, key string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", "", false
	}
	parts := strings.SplitN(string(b), "\x00", 3)
	if len(parts) != 3 || parts[0] != "1" || parts[1] == "" {
		return "", "", false
	}
	return parts[1], parts[2], true
}
