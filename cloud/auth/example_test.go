package auth_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/ec2grid/ec2grid/cloud/auth"
)

// A front end reads the body once, merges query-string and form parameters, and lets
// Verify decide who is calling; an *auth.Error becomes EC2's error document.
func Example() {
	accounts := map[string]string{"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	secrets := func(id string) (string, bool) { s, ok := accounts[id]; return s, ok }

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		params, _ := url.ParseQuery(r.URL.RawQuery)
		form, _ := url.ParseQuery(string(body))
		for k, vs := range form {
			params[k] = append(params[k], vs...)
		}
		account, err := auth.Verify(r, body, params, secrets, time.Now())
		var ae *auth.Error
		if errors.As(err, &ae) {
			status := http.StatusUnauthorized // AuthFailure
			if ae.Code == auth.CodeRequestExpired {
				status = http.StatusBadRequest
			}
			w.WriteHeader(status)
			fmt.Fprintf(w, "<Response><Errors><Error><Code>%s</Code>...", ae.Code)
			return
		}
		fmt.Fprintf(w, "hello %s", account)
	})

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader("Action=DescribeRegions&Version=2016-11-15")))
	fmt.Println(rec.Code, rec.Body.String())
	// Output: 401 <Response><Errors><Error><Code>AuthFailure</Code>...
}
