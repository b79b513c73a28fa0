package cloud

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestTags(t *testing.T) {
	tc := newTestCloud(t)
	ids := tc.run(2)
	// HTCondor's gahp numbers ResourceId and Tag from 0.
	tc.ok("CreateTags", "ResourceId.0", ids[0], "Tag.0.Key", "Name", "Tag.0.Value", "web", "Tag.1.Key", "empty")
	tc.ok("CreateTags", "ResourceId.1", ids[0], "ResourceId.2", ids[1], "Tag.1.Key", "env", "Tag.1.Value", "prod")
	tc.ok("CreateTags", "ResourceId.1", ids[1], "Tag.1.Key", "env", "Tag.1.Value", "test") // overwrites

	in := tc.instance(ids[0])
	if got := in.texts("tagSet/item/key"); !slices.Equal(got, []string{"Name", "empty", "env"}) {
		t.Errorf("instance tags %q", got)
	}
	rows := func(r *response) []string {
		var out []string
		for _, it := range r.root.all("tagSet/item") {
			out = append(out, it.get("resourceId")[:4]+"/"+it.get("resourceType")+"/"+it.get("key")+"="+it.get("value"))
		}
		return out
	}
	all := tc.ok("DescribeTags")
	if n := len(all.root.all("tagSet/item")); n != 4 {
		t.Errorf("DescribeTags: %d rows: %q", n, rows(all))
	}
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"Filter.1.Name", "resource-id", "Filter.1.Value.1", ids[1]}, 1},
		{[]string{"Filter.1.Name", "resource-type", "Filter.1.Value.1", "instance"}, 4},
		{[]string{"Filter.1.Name", "resource-type", "Filter.1.Value.1", "volume"}, 0},
		{[]string{"Filter.1.Name", "key", "Filter.1.Value.1", "env"}, 2},
		{[]string{"Filter.1.Name", "value", "Filter.1.Value.1", "pro*"}, 1},
		{[]string{"Filter.1.Name", "key", "Filter.1.Value.1", "env", "Filter.2.Name", "value", "Filter.2.Value.1", "test"}, 1},
		{[]string{"Filter.1.Name", "tag:Name", "Filter.1.Value.1", "web"}, 3},
	} {
		if r := tc.ok("DescribeTags", c.args...); len(r.root.all("tagSet/item")) != c.want {
			t.Errorf("DescribeTags %q: %q, want %d rows", c.args, rows(r), c.want)
		}
	}

	// DeleteTags: a key; a key whose value does not match (kept); no Tag at all (everything).
	tc.ok("DeleteTags", "ResourceId.1", ids[0], "Tag.1.Key", "env", "Tag.1.Value", "other")
	tc.ok("DeleteTags", "ResourceId.1", ids[0], "Tag.1.Key", "Name")
	tc.ok("DeleteTags", "ResourceId.1", ids[0], "Tag.1.Key", "empty", "Tag.1.Value", "")
	if got := tc.instance(ids[0]).texts("tagSet/item/key"); !slices.Equal(got, []string{"env"}) {
		t.Errorf("after DeleteTags: %q", got)
	}
	tc.ok("DeleteTags", "ResourceId.1", ids[0])
	if tc.instance(ids[0]).has("tagSet") {
		t.Errorf("DeleteTags without Tag left tags")
	}

	missing := "i-0000000000000000f"
	for _, c := range []struct {
		code string
		args []string
	}{
		{"MissingParameter", []string{"Tag.1.Key", "k"}},
		{"MissingParameter", []string{"ResourceId.1", ids[0]}},
		{"MissingParameter", []string{"ResourceId.1", ids[0], "Tag.1.Value", "v"}},
		{"InvalidID", []string{"ResourceId.1", "thing-1", "Tag.1.Key", "k"}},
		{"InvalidInstanceID.NotFound", []string{"ResourceId.1", ids[0], "ResourceId.2", missing, "Tag.1.Key", "k"}},
		{"InvalidParameterValue", []string{"ResourceId.1", ids[0], "Tag.1.Key", "aws:cloudformation:x"}},
		{"InvalidParameterValue", []string{"ResourceId.1", ids[0], "Tag.1.Key", strings.Repeat("k", 129)}},
		{"InvalidParameterValue", []string{"ResourceId.1", ids[0], "Tag.1.Key", "k", "Tag.1.Value", strings.Repeat("v", 257)}},
	} {
		tc.fails(http.StatusBadRequest, c.code, "CreateTags", c.args...)
	}
	if tc.instance(ids[0]).has("tagSet") {
		t.Errorf("a failed CreateTags tagged")
	}
	var many []string
	for i := range maxTagsPerResource + 1 {
		many = append(many, fmt.Sprintf("Tag.%d.Key", i+1), fmt.Sprintf("k%02d", i))
	}
	tc.fails(http.StatusBadRequest, "TagLimitExceeded", "CreateTags", append([]string{"ResourceId.1", ids[0]}, many...)...)
	tc.fails(http.StatusBadRequest, "InvalidParameterValue", "DescribeTags", "Filter.1.Name", "owner", "Filter.1.Value.1", "x")
	tc.fails(http.StatusBadRequest, "InvalidInstanceID.NotFound", "DeleteTags", "ResourceId.1", missing)
	// Images can be tagged too.
	tc.ok("CreateTags", "ResourceId.1", "ami-12345678", "Tag.1.Key", "seen")
	if r := tc.ok("DescribeTags", "Filter.1.Name", "resource-type", "Filter.1.Value.1", "image"); len(r.root.all("tagSet/item")) != 1 {
		t.Errorf("image tags: %s", r.body)
	}
}

func TestDescribeTagsPagination(t *testing.T) {
	tc := newTestCloud(t)
	ids := tc.run(3)
	for _, id := range ids {
		tc.ok("CreateTags", "ResourceId.1", id, "Tag.1.Key", "a", "Tag.2.Key", "b", "Tag.3.Key", "c", "Tag.4.Key", "d")
	}
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		args := []string{"MaxResults", "5"}
		if token != "" {
			args = append(args, "NextToken", token)
		}
		r := tc.ok("DescribeTags", args...)
		for _, it := range r.root.all("tagSet/item") {
			got = append(got, it.get("resourceId")+"/"+it.get("key"))
		}
		if token = r.root.get("nextToken"); token == "" {
			break
		}
		if pages > 10 {
			t.Fatal("no end")
		}
	}
	var want []string
	sorted := slices.Sorted(slices.Values(ids))
	for _, id := range sorted {
		for _, k := range []string{"a", "b", "c", "d"} {
			want = append(want, id+"/"+k)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages gave %q, want %q", got, want)
	}
	tc.fails(http.StatusBadRequest, "InvalidPaginationToken", "DescribeTags", "NextToken", "x")
}
