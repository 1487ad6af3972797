# SPDX-License-Identifier: MIT
set terminal pngcairo noenhanced size 1400,600 font 'DejaVu Sans,11'
set output 'cpu_per_read.png'
set multiplot layout 1,2 title 'One read over K network namespaces, 300,000 TCP sockets in all — 2026-11-29 08:29 UTC'
set logscale xy
set grid
set key top left Left reverse samplen 3
set xrange [0.8:62.5]
set xtics (1, 10, 50)
set xlabel 'namespaces read (<Namespace> blocks)'
set ylabel 'CPU ms per read (user+sys)'
set title 'CPU per read (collectd -T, minus its start cost)'
set yrange [100:100000]
plot 'plot.dat' using 1:2 with linespoints lw 2 lc rgb '#d62728' pt 7 title 'tcpconns_diag, shared hash, default block', \
  'plot.dat' using 1:4 with linespoints lw 2 lc rgb '#d62728' pt 6 dt 2 title 'tcpconns_diag, shared hash, LocalPort 443', \
  'plot.dat' using 1:3 with linespoints lw 2 lc rgb '#1f77b4' pt 5 title 'tcpconns_diag, private hashes, default block', \
  'plot.dat' using 1:5 with linespoints lw 2 lc rgb '#1f77b4' pt 4 dt 2 title 'tcpconns_diag, private hashes, LocalPort 443', \
  'plot.dat' using 1:6 with linespoints lw 1 lc rgb '#7f7f7f' pt 9 dt 3 title 'upstream, one collectd per namespace (K x one read), shared', \
  'plot.dat' using 1:7 with linespoints lw 1 lc rgb '#7f7f7f' pt 8 dt 4 title 'upstream, one collectd per namespace (K x one read), private', \
  'plot.dat' using 1:8 with points lc rgb '#d62728' pt 3 ps 1.5 title 'running collectd (steady state), shared hash, default block', \
  'plot.dat' using 1:9 with points lc rgb '#1f77b4' pt 3 ps 1.5 title 'running collectd (steady state), private hashes, default block'
set title 'CPU per namespace (read / K)'
set ylabel 'CPU ms per namespace'
set yrange [1:10000]
plot 'plot.dat' using 1:($2/$1) with linespoints lw 2 lc rgb '#d62728' pt 7 title 'shared hash, default block', \
  'plot.dat' using 1:($4/$1) with linespoints lw 2 lc rgb '#d62728' pt 6 dt 2 title 'shared hash, LocalPort 443', \
  'plot.dat' using 1:($3/$1) with linespoints lw 2 lc rgb '#1f77b4' pt 5 title 'private hashes, default block', \
  'plot.dat' using 1:($5/$1) with linespoints lw 2 lc rgb '#1f77b4' pt 4 dt 2 title 'private hashes, LocalPort 443', \
  'plot.dat' using 1:($8/$1) with points lc rgb '#d62728' pt 3 ps 1.5 title 'running collectd, shared hash, default block', \
  'plot.dat' using 1:($9/$1) with points lc rgb '#1f77b4' pt 3 ps 1.5 title 'running collectd, private hashes, default block'
unset multiplot
