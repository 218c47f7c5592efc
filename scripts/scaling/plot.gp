# Plots one mpiray-scale CSV: speed-up and parallel efficiency against ranks, with ideal lines.
#   gnuplot -e "csv='strong.csv'; png='strong.png'; mode='strong'; title='...'" plot.gp
# Columns: 1 mode, 2 ranks, 3 nodes, 4 workers, 5 threads, 6 units, 7 reps, 8 wall_median_s,
#          9 wall_min_s, 10 wall_max_s, 11 speedup, 12 efficiency, 13 ideal_speedup
# Error bars span the fastest and slowest repetition.
if (!exists("title")) title = "mpiray scaling"
set datafile separator ","
stats csv every ::1::1 using 8 nooutput
t0 = STATS_min                      # median wall time of the base (first) rank count
stats csv every ::1 using 2 nooutput
rmin = STATS_min; rmax = STATS_max

set terminal pngcairo size 1200,480 font "DejaVu Sans,11" noenhanced
set output png
set multiplot layout 1,2 title sprintf("%s: %s scaling", title, mode)
set grid
set key top left
set xlabel "ranks (rank 0 = driver, others run tasks)"
set xrange [rmin - 0.5 : rmax + 0.5]
set xtics 1

if (mode eq "strong") {
  set ylabel "speed-up  T(base) / T(ranks)"
  set yrange [0:*]
  plot csv every ::1 using 2:13 with lines dt 2 lw 2 lc rgb "#888888" title "ideal (worker ranks x threads)", \
       csv every ::1 using 2:11:(t0/$10):(t0/$9) with yerrorlines lw 2 pt 7 lc rgb "#1f77b4" title "measured (median, min-max)"
  set ylabel "efficiency  speed-up / ideal"
  set yrange [0:1.2]
  plot 1 with lines dt 2 lw 2 lc rgb "#888888" title "ideal", \
       csv every ::1 using 2:12:(t0/$10/$13):(t0/$9/$13) with yerrorlines lw 2 pt 7 lc rgb "#d62728" title "measured"
} else {
  set ylabel "scaled speed-up  efficiency x (worker ranks x threads)"
  set yrange [0:*]
  plot csv every ::1 using 2:13 with lines dt 2 lw 2 lc rgb "#888888" title "ideal", \
       csv every ::1 using 2:11:(t0/$10*$13):(t0/$9*$13) with yerrorlines lw 2 pt 7 lc rgb "#1f77b4" title "measured (median, min-max)"
  set ylabel "weak efficiency  T(base) / T(ranks)"
  set yrange [0:1.2]
  plot 1 with lines dt 2 lw 2 lc rgb "#888888" title "ideal", \
       csv every ::1 using 2:12:(t0/$10):(t0/$9) with yerrorlines lw 2 pt 7 lc rgb "#d62728" title "measured"
}
unset multiplot
