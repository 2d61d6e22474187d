package result

import (
	"fmt"
	"html/template"
	"io"
	"time"
)

var htmlPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"mark":   mark,
	"plural": plural,
	"round":  round,
	"utc":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.R.Title}}: {{.R.Verdict}}</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
.verdict{border-radius:10px;padding:20px 24px;margin-bottom:20px;color:#fff}
.verdict.pass{background:#1f7a4a}.verdict.fail,.verdict.error{background:#b3261e}
.verdict h1{margin:0 0 6px;font-size:30px;letter-spacing:.5px}
.verdict p{margin:4px 0;font-size:16px}
.verdict pre{background:rgba(0,0,0,.25);padding:10px;border-radius:6px;white-space:pre-wrap;margin:10px 0 0;font-size:13px}
.meta{color:#5a6275;font-size:13px;margin-bottom:18px}
.stages{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:22px}
.stage{background:#fff;border-radius:8px;padding:10px 14px;border-left:6px solid #9aa3b5;min-width:120px}
.stage.pass{border-color:#1f7a4a}.stage.fail,.stage.error{border-color:#b3261e}.stage.skip{border-color:#9aa3b5}
.stage b{display:block;text-transform:uppercase;font-size:12px;letter-spacing:.6px;color:#5a6275}
table{border-collapse:collapse;width:100%;background:#fff;border-radius:8px;overflow:hidden}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid #e5e8ee;vertical-align:top;font-size:14px}
th{background:#eef0f4;font-weight:600}
td.status{font-weight:700;white-space:nowrap}
tr.fail td.status,tr.error td.status{color:#b3261e}tr.pass td.status{color:#1f7a4a}tr.skip td.status{color:#5a6275}
tr.fail,tr.error{background:#fff4f3}
ul{margin:0;padding-left:18px}.bad{color:#b3261e;font-weight:600}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
</style></head><body><main>
<section class="verdict {{.R.Verdict}}">
<h1>{{if eq .R.Verdict "pass"}}PASS{{else}}FAIL{{end}} · {{.R.Title}}</h1>
{{with .R.FirstFailure}}<p>Stage <b>{{.Stage}}</b> failed: <b>{{.Name}}</b></p><p>{{.Summary}}</p>
{{if .Evidence}}<pre>{{range .Evidence}}{{.}}
{{end}}</pre>{{end}}{{else}}<p>{{.Line}}</p>{{end}}
</section>
<div class="meta">Target <code>{{.R.Target}}</code>{{if not .R.Started.IsZero}} · started {{utc .R.Started}}{{end}}{{if .R.Duration}} · took {{round .R.Duration}}{{end}}{{range $k, $v := .R.Meta}} · {{$k}} <code>{{$v}}</code>{{end}}</div>
<div class="stages">{{range .R.Stages}}<div class="stage {{.Status}}"><b>{{.Name}}</b>{{mark .Status}} · {{plural .Checks "check"}}{{if .Failed}}, {{.Failed}} failed{{end}} · {{round .Duration}}</div>{{end}}</div>
<table><thead><tr><th>stage</th><th>check</th><th>status</th><th>summary</th><th>measurements</th><th>time</th></tr></thead><tbody>
{{range .R.Checks}}<tr class="{{.Status}}"><td>{{.Stage}}</td><td>{{.Name}}</td><td class="status">{{mark .Status}}</td>
<td>{{.Summary}}{{if .Evidence}}<ul>{{range .Evidence}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}</td>
<td><ul>{{range .Measurements}}<li{{if not .Pass}} class="bad"{{end}}>{{.String}}</li>{{end}}</ul></td><td>{{round .Duration}}</td></tr>
{{end}}</tbody></table>
</main></body></html>
`))

// WriteHTML writes a self-contained page that opens with the verdict and the
// first failing stage with its evidence, then the stages and every check.
func (r *Report) WriteHTML(w io.Writer) error {
	if err := htmlPage.Execute(w, struct {
		R    *Report
		Line string
	}{r, r.verdictLine()}); err != nil {
		return fmt.Errorf("write the HTML report: %w", err)
	}
	return nil
}
