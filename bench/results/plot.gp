set terminal pngcairo noenhanced size 1400,1000 font 'DejaVu Sans,11'
set output 'cpu_per_read.png'
set multiplot layout 2,2 title 'CPU time (user+sys) of one read vs sockets in the namespace — 2026-11-23 13:51 UTC'
set logscale xy
set grid
set key top left
set format x '%.0s%c'
set xlabel 'TCP sockets'
set ylabel 'CPU ms per read'
set title 'default (listening ports)'
plot 'plot.dat' index 0 using 1:2 with linespoints lw 2 lc rgb '#d62728' pt 7 title 'upstream tcpconns', \
  'plot.dat' index 0 using 1:3 with linespoints lw 2 lc rgb '#1f77b4' pt 5 title 'tcpconns_diag', \
  'plot.dat' index 0 using 1:4 with linespoints lw 2 lc rgb '#ff7f0e' pt 6 dt 4 title 'tcpconns_diag collector alone', \
  'plot.dat' index 0 using 1:5 with linespoints lw 2 lc rgb '#2ca02c' pt 9 dt 2 title 'raw sock_diag floor', \
  'plot.dat' index 0 using 1:6 with linespoints lw 2 lc rgb '#9467bd' pt 11 title 'ss (same filter)', \
  'plot.dat' index 0 using 1:7 with linespoints lw 2 lc rgb '#7f7f7f' pt 13 dt 3 title '/proc/net/tcp+tcp6'
set title 'LocalPort 80 + LocalPort 443 + RemotePort 8080'
plot 'plot.dat' index 1 using 1:2 with linespoints lw 2 lc rgb '#d62728' pt 7 title 'upstream tcpconns', \
  'plot.dat' index 1 using 1:3 with linespoints lw 2 lc rgb '#1f77b4' pt 5 title 'tcpconns_diag', \
  'plot.dat' index 1 using 1:4 with linespoints lw 2 lc rgb '#ff7f0e' pt 6 dt 4 title 'tcpconns_diag collector alone', \
  'plot.dat' index 1 using 1:5 with linespoints lw 2 lc rgb '#2ca02c' pt 9 dt 2 title 'raw sock_diag floor', \
  'plot.dat' index 1 using 1:6 with linespoints lw 2 lc rgb '#9467bd' pt 11 title 'ss (same filter)', \
  'plot.dat' index 1 using 1:7 with linespoints lw 2 lc rgb '#7f7f7f' pt 13 dt 3 title '/proc/net/tcp+tcp6'
set title 'LocalPort 9100 (~1% of sockets)'
plot 'plot.dat' index 2 using 1:2 with linespoints lw 2 lc rgb '#d62728' pt 7 title 'upstream tcpconns', \
  'plot.dat' index 2 using 1:3 with linespoints lw 2 lc rgb '#1f77b4' pt 5 title 'tcpconns_diag', \
  'plot.dat' index 2 using 1:4 with linespoints lw 2 lc rgb '#ff7f0e' pt 6 dt 4 title 'tcpconns_diag collector alone', \
  'plot.dat' index 2 using 1:5 with linespoints lw 2 lc rgb '#2ca02c' pt 9 dt 2 title 'raw sock_diag floor', \
  'plot.dat' index 2 using 1:6 with linespoints lw 2 lc rgb '#9467bd' pt 11 title 'ss (same filter)', \
  'plot.dat' index 2 using 1:7 with linespoints lw 2 lc rgb '#7f7f7f' pt 13 dt 3 title '/proc/net/tcp+tcp6'
set title 'AllPortsSummary true'
plot 'plot.dat' index 3 using 1:2 with linespoints lw 2 lc rgb '#d62728' pt 7 title 'upstream tcpconns', \
  'plot.dat' index 3 using 1:3 with linespoints lw 2 lc rgb '#1f77b4' pt 5 title 'tcpconns_diag', \
  'plot.dat' index 3 using 1:4 with linespoints lw 2 lc rgb '#ff7f0e' pt 6 dt 4 title 'tcpconns_diag collector alone', \
  'plot.dat' index 3 using 1:5 with linespoints lw 2 lc rgb '#2ca02c' pt 9 dt 2 title 'raw sock_diag floor', \
  'plot.dat' index 3 using 1:6 with linespoints lw 2 lc rgb '#9467bd' pt 11 title 'ss (same filter)', \
  'plot.dat' index 3 using 1:7 with linespoints lw 2 lc rgb '#7f7f7f' pt 13 dt 3 title '/proc/net/tcp+tcp6'
unset multiplot
