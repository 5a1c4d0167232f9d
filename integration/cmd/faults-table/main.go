// Command faults-table prints the figures the fault tests append to $FAULTS_REPORT (one JSON
// object per line) as a table: `make faults` runs the tests, then this.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"text/tabwriter"
)

type row struct {
	Fault         string  `json:"fault"`
	Runs          int     `json:"runs"`
	RecoveryP50Ms float64 `json:"recovery_p50_ms"`
	RecoveryMaxMs float64 `json:"recovery_max_ms"`
	StaleSeen     int     `json:"stale_seen"`
	MissingSeen   int     `json:"missing_seen"`
	Withdrawals   int     `json:"withdrawals"`
	Samples       int     `json:"samples"`
	Note          string  `json:"note"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: faults-table REPORT.jsonl")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		var r row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			fmt.Fprintf(os.Stderr, "%s:%d: %v\n", os.Args[1], n, err)
			os.Exit(1)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Fault < rows[j].Fault })
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "fault\truns\trecovery p50\trecovery max\tstale seen\tmissing seen\twithdrawals seen\tsamples\tmeasured")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", r.Fault, r.Runs, ms(r.RecoveryP50Ms), ms(r.RecoveryMaxMs),
			r.StaleSeen, r.MissingSeen, r.Withdrawals, r.Samples, r.Note)
	}
	w.Flush()
}

func ms(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.1f s", v/1000)
	}
	return fmt.Sprintf("%.0f ms", v)
}
