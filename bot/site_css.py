"""The status page's stylesheet, inlined into the page so it stays one self-contained file.

Kept apart from the markup (``bot.site``) because it changes for other reasons: the page's look, contrast,
and phone and print layouts. Class names (``s-<status>``, ``f-<status>``, ``b-<status>``) are the contract
between the two; striped fills here and a glyph per status there keep colour from being the only cue.
"""

from __future__ import annotations

CSS = """
:root{color-scheme:light;--ink:#1f2328;--muted:#57606a;--line:#d0d7de;--bg:#f3f5f8;--link:#0550ae;--navy:#0b2545;
--met:#1a7f37;--partial:#9a6700;--missed:#cf222e;--in_progress:#0969da;--stalled:#8250df;--pending:#6e7781}
*{box-sizing:border-box}html{-webkit-text-size-adjust:100%}body{margin:0;color:var(--ink);background:var(--bg);
overflow-wrap:break-word;
font:1rem/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Naskh Arabic",Tahoma,sans-serif}
a{color:var(--link);text-underline-offset:.15em}a:visited{color:#6639ba}
a:focus-visible,summary:focus-visible{outline:3px solid #fb8f44;outline-offset:2px;border-radius:2px}
.skip{position:absolute;left:.5rem;top:-4rem;background:#fff;color:var(--navy);padding:.5rem 1rem;font-weight:600;
z-index:9}.skip:focus{top:.5rem}.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);
white-space:nowrap}.wrap{max-width:72rem;margin:0 auto;padding:0 1.25rem}.top{background:var(--navy);color:#fff;
padding:1.6rem 0 1.4rem}.top a{color:#fff}.brand{margin:0;font-size:.8rem;font-weight:600;letter-spacing:.1em;
text-transform:uppercase;color:#c9d6ea}h1{margin:.15rem 0 .4rem;font-size:clamp(1.6rem,4.5vw,2.4rem);line-height:1.15}
.lede{margin:0;max-width:48rem;color:#dde6f2}.stamp{margin:.7rem 0 0;font-size:.875rem;color:#c9d6ea}
main{padding:1.5rem 0 2rem}.panel{background:#fff;border:1px solid var(--line);border-radius:.7rem;
padding:1.4rem 1.5rem;margin:0 0 1.5rem}h2{font-size:clamp(1.2rem,3vw,1.4rem);line-height:1.3;margin:0 0 .35rem}
.meta{color:var(--muted);margin:0 0 .5rem;font-size:.925rem}details{margin:.5rem 0}summary{cursor:pointer;
color:var(--link);font-size:.925rem}details p{max-width:48rem}.bar{display:flex;gap:2px;height:1.25rem;
margin:1rem 0 .5rem;border-radius:.3rem;overflow:hidden;background:#eaeef2}.bar span{min-width:.4rem}
.legend{display:flex;flex-wrap:wrap;gap:.25rem 1.2rem;list-style:none;margin:0;padding:0;font-size:.925rem}
.legend li{display:flex;align-items:center;gap:.4rem}.legend b{font-size:1.05rem}.sw{display:inline-block;width:.9rem;
height:.9rem;border-radius:.2rem}.f-met{background:var(--met)}
.f-partial{background:repeating-linear-gradient(90deg,var(--partial) 0 50%,#d4a72c 50% 100%)}
.f-missed{background:repeating-linear-gradient(135deg,var(--missed) 0 5px,#a40e26 5px 8px)}
.f-in_progress{background:var(--in_progress)}
.f-stalled{background:repeating-linear-gradient(90deg,var(--stalled) 0 6px,#6639ba 6px 8px)}
.f-pending{background:var(--pending)}.stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(9.5rem,1fr));
gap:.75rem;list-style:none;margin:1.2rem 0 0;padding:0}.stats li{border:1px solid var(--line);border-radius:.5rem;
padding:.6rem .85rem;background:#f8fafc;font-size:.9rem}.stats b{display:block;font-size:1.7rem;line-height:1.15}
.stats .late b{color:#a40e26}.toc{margin:1.2rem 0 0;padding-left:1.2rem}.toc li{margin:.25rem 0}
.cards{list-style:none;margin:1.25rem 0 0;padding:0;display:grid;gap:1rem}.card{display:grid;
grid-template-areas:"head" "side" "body";gap:.4rem 2rem;border:1px solid var(--line);
border-left:.4rem solid var(--pending);border-radius:.5rem;padding:1rem 1.2rem;background:#fff}
.card.s-met{border-left-color:var(--met)}.card.s-partial{border-left-color:var(--partial)}
.card.s-missed{border-left-color:var(--missed)}.card.s-in_progress{border-left-color:var(--in_progress)}
.card.s-stalled{border-left-color:var(--stalled)}.head{grid-area:head;display:flex;flex-wrap:wrap;gap:.4rem 1rem;
align-items:flex-start;justify-content:space-between}.side{grid-area:side}.body{grid-area:body;min-width:0}
h3{flex:1 1 18rem;font-size:1.1rem;line-height:1.35;margin:0}.badge{margin:0;padding:.15rem .65rem;border-radius:1rem;
font-weight:600;font-size:.875rem;white-space:nowrap}.b-met{background:#dafbe1;color:#116329}
.b-partial{background:#fff8c5;color:#6c4400}.b-missed{background:#ffebe9;color:#a40e26}
.b-in_progress{background:#ddf4ff;color:#0550ae}.b-stalled{background:#fbefff;color:#6639ba}
.b-pending{background:#eaeef2;color:#3d444d}.facts{display:grid;
grid-template-columns:repeat(auto-fit,minmax(8.5rem,1fr));gap:.45rem 1.25rem;margin:.2rem 0}
.facts dt{font-size:.75rem;font-weight:600;letter-spacing:.05em;text-transform:uppercase;color:var(--muted)}
.facts dd{margin:0}.late{color:#a40e26;font-weight:600}.sub{color:var(--muted);font-size:.875rem}
blockquote{margin:.3rem 0 .2rem;padding:.05rem 0 .05rem .9rem;border-left:3px solid var(--line);color:#32383f}
blockquote p{margin:.2rem 0}h4{margin:.9rem 0 .3rem;font-size:.8rem;letter-spacing:.05em;text-transform:uppercase;
color:var(--muted)}.links{margin:0;padding-left:1.1rem;list-style:disc}.links li{margin:.35rem 0}
.links .sub{display:block}.none{margin:0;color:var(--muted);font-size:.925rem}.cid{margin:.8rem 0 0;font-size:.8rem;
color:var(--muted)}code{font:.85em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.foot{border-top:1px solid var(--line);padding:1.25rem 0 2.5rem;color:var(--muted);font-size:.9rem}
.foot h2{color:var(--ink);font-size:1.15rem}.foot dt{font-weight:600;color:var(--ink)}.foot dl{display:grid;
grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0 1rem}.foot dd{margin:0}
@media (min-width:60rem){.card{grid-template-columns:minmax(0,1fr) 16rem;grid-template-areas:"head head" "body side"}
.side .facts{grid-template-columns:1fr}}@media (max-width:40rem){.wrap{padding:0 .5rem}.top .wrap{padding:0 .9rem}
.panel{padding:1rem .7rem;border-radius:.5rem}.card{padding:.8rem .75rem;border-left-width:.3rem}
blockquote{padding-left:.6rem}.links{padding-left:1rem}.top{padding:1.2rem 0 1rem}}@media print{.skip{display:none}
.top,.top *{background:#fff;color:#000}.card{break-inside:avoid}}
"""
