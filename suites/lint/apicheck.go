package lint

// checkAPIs judges every object's apiVersion against the cell's Kubernetes
// version with the table of data/apis.yaml (SD110 removed, SD111 deprecated,
// SD112 not served yet).
func (c *cellRun) checkAPIs() {
	for _, o := range c.objects {
		if st := c.apis.check(o.ref.APIVersion, o.ref.Kind, c.version); st.rule != "" {
			c.add(st.rule, o, "apiVersion", st.message)
		}
	}
}
