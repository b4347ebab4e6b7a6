/* Tracking beacon: stateless, nothing stored, no identifiers. */
!function(w,d){try{
var s=d.currentScript,b=s.getAttribute('data-beacon'),L=location,t=w.tracking,q=t&&t.q||[],v=t&&t.v||[],P,R=d.referrer,X={},E='addEventListener',T,
G=function(f){return function(){try{f.apply(this,arguments)}catch(e){}}},
S=function(e,p,m,r){
var o={url:L.href,event:e,width:w.innerWidth|0},n=navigator,j,k,u=[],x;
r!=null&&(o.referrer=r);
x=Object.assign({},{}.toString.call(p)=='[object Object]'&&p,X);
for(k in x){o.props=x;break}
m&&m.revenue&&(o.revenue=m.revenue);
j=JSON.stringify(o);
if(b&&/^https?:$/.test(L.protocol)&&!(n.sendBeacon&&n.sendBeacon(b,j)))
if(w.fetch)fetch(b,{method:'POST',body:j,keepalive:!0,mode:'no-cors',credentials:'omit'}).catch(G);
else{for(k in o)u.push(k+'='+encodeURIComponent(''+o[k]===o[k]?o[k]:JSON.stringify(o[k])));new Image().src=b+'?'+u.join('&')}},
V=G(function(k){
k=L.pathname+L.search;
if(k!=P&&!d.prerendering&&d.visibilityState!='prerender'){S('pageview',0,0,R);P=k;R=L.href}}),
Z=function(){P==null&&V()},
H=history.pushState,J=history.replaceState,
O=G(function(e,a){
a=e.button<2&&e.target.closest('a[href]');
a&&a.host!=L.host&&/^http/.test(a.protocol)&&S('outbound',{url:a.href})});
T=w.tracking=G(function(e,p,m){e&&''+e===e&&S(e,p,m)});
T.variant=G(function(k,v){k&&''+k===k&&''+v===v&&k.length<54&&v.length<257&&(X['experiment:'+k]=v)});
history.pushState=function(){var r=H.apply(this,arguments);V();return r};
history.replaceState=function(){var r=J.apply(this,arguments);P=L.pathname+L.search;return r};
w[E]('popstate',V);d[E]('prerenderingchange',Z);d[E]('visibilitychange',Z);
s.hasAttribute('data-outbound-links')&&(d[E]('click',O,!0),d[E]('auxclick',O,!0));
v.map(function(a){T.variant.apply(w,a)});Z();q.map(function(a){T.apply(w,a)})
}catch(e){}}(window,document);
