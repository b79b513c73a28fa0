package classad

func registerBuiltins(m map[string]builtinFunc) {
	m["time"] = func(st *evalState, args []Expr) Value {
		if len(args) != 0 {
			return Error()
		}
		return Int(st.now().Unix())
	}
}
