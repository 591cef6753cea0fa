#include "lanes.h"
#include <cstdio>
int main(){
  lanes_tunables t; lanes_tunables_default(&t);
  lanes_dev d; lanes_dev_init(&d,&t,0);
  lanes_view v{}; v.nr[0]=100; v.nr[1]=100; v.oldest_wait_ns[1]=3000000000ULL;
  int w=0; for(int i=0;i<200;i++){ lanes_choice p; lanes_pick(&d,&t,&v,&p); lanes_dispatched(&d,&p,&v); if(p.lane==1) w++; else break; }
  printf("writes in a row with reads waiting while oldest write expired: %d (writes bound %u)\n", w, lanes_writes_bound(&t));
  // read_priority 19 + starvation_max_read 1024 + writes_starved 0: writes bound
  t.read_priority=19; t.starvation_max_read=1024; printf("max writes_bound %u reads_bound(-20, smw 1024) ", lanes_writes_bound(&t));
  t.read_priority=-20; d.starvation_max_write=1024; printf("%u\n", lanes_reads_bound(&d,&t));
  // group bits coverage at 100us
  printf("group range at 100us: %.1f h\n", (double)LANES_GROUP_MAX*100e-6/3600);
}
