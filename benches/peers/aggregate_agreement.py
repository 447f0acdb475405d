#!/usr/bin/env python3
"""Variances, standard deviations and quantiles of fanfold beside exact fractions and DuckDB.

On the full nycflights13 table (../shared/data/flights.csv, 336,776 rows), for
every group of origin, carrier and dest and the columns arr_delay, dep_delay,
air_time and distance: fanfold's var_samp, var_pop, stddev_samp and stddev_pop
must be bit-equal to the correctly rounded exact values (Python's `fractions`:
n, sum and sum of squares as exact fractions, float() of the exact variance,
math.sqrt of that float), and within a relative 1e-12 of DuckDB's (whose
streaming updates round along the way); its median, quantile_cont and
quantile_disc must equal DuckDB's. Run from the repository root after
`cargo build --release`. Exits non-zero on a
mismatch. DuckDB is its CLI (`pip install duckdb-cli`, as the benchsuite uses):
its Python wheel 2.0.1 fuses quantile_cont's lo*(1-d) + hi*d into one
multiply-add and differs from the CLI in the last bit of some quantiles.
"""
import csv, sys, math, subprocess, io
from fractions import Fraction
from collections import defaultdict
import os
import shutil


def duckdb_cli():
    """The DuckDB CLI the benchsuite times (pip's duckdb-cli), or `duckdb` on PATH."""
    try:
        import duckdb_cli as pkg
        return os.path.join(os.path.dirname(pkg.__file__), 'duckdb')
    except ImportError:
        return shutil.which('duckdb') or sys.exit('needs the DuckDB CLI: pip install duckdb-cli')


DUCK = duckdb_cli()


def duck(sql):
    """Rows of a DuckDB query, as text (NULL as None)."""
    out = subprocess.run([DUCK, '-csv', '-nullvalue', '\\N', '-c', sql],
                         capture_output=True, text=True, check=True).stdout
    rows = list(csv.reader(io.StringIO(out)))[1:]
    return [[None if x == '\\N' else x for x in r] for r in rows]
path='../shared/data/flights.csv'
ff='./target/release/fanfold'
rows=list(csv.DictReader(open(path,newline='')))
worst=0; checked=0
for key in ['origin','carrier','dest']:
  for col in ['arr_delay','dep_delay','air_time','distance']:
    g=defaultdict(list)
    for r in rows:
        v=r[col]
        if v in ('','NA'): continue
        g[r[key]].append(Fraction(v))
    out=subprocess.run([ff,path,'--group-by',key,'--agg',f'var_samp:{col},var_pop:{col},stddev_samp:{col},stddev_pop:{col}','--null','NA'],capture_output=True,text=True,check=True).stdout
    got={l.split(',')[0]:l.split(',')[1:] for l in out.strip().split('\n')[1:]}
    db=duck(f"select {key}, var_samp({col}), var_pop({col}), stddev_samp({col}), stddev_pop({col}) from read_csv('{path}', nullstr='NA') group by {key}")
    db={r[0]:[float(x) if x is not None else None for x in r[1:]] for r in db}
    for k,xs in g.items():
        n=len(xs); s=sum(xs); q=sum(x*x for x in xs)
        vs=float((n*q-s*s)/(n*(n-1))) if n>1 else None
        vp=float((n*q-s*s)/(n*n))
        exp=[vs,vp,math.sqrt(vs) if vs is not None else None, math.sqrt(vp)]
        mine=[float(x) if x!='' else None for x in got[k]]
        assert mine==exp, (key,col,k,mine,exp)
        for a,b in zip(mine,db[k]):
            if a is None or b is None:
                assert a is None and b is None, (key,col,k,a,b); continue
            if a==0: assert abs(b)<1e-9, (a,b); continue
            worst=max(worst,abs(a-b)/abs(a))
        checked+=1
print('groups checked', checked, 'all bit-equal to fractions; worst relative diff vs DuckDB', worst)

# Exact quantiles: equal to DuckDB's median, quantile_cont and quantile_disc.
qchecked = 0
for key in ['origin', 'carrier', 'dest']:
    for col in ['arr_delay', 'dep_delay', 'air_time', 'distance']:
        aggs = f'median:{col},quantile:{col}:0.95,quantile:{col}:0.1,quantile_disc:{col}:0.95,quantile_disc:{col}:0.1'
        out = subprocess.run([ff, path, '--group-by', key, '--agg', aggs, '--null', 'NA'],
                             capture_output=True, text=True, check=True).stdout
        got = {l.split(',')[0]: l.split(',')[1:] for l in out.strip().split('\n')[1:]}
        db = duck(f"select {key}, median({col}), quantile_cont({col}, 0.95), quantile_cont({col}, 0.1), "
                  f"quantile_disc({col}, 0.95), quantile_disc({col}, 0.1) "
                  f"from read_csv('{path}', nullstr='NA') group by {key}")
        for r in db:
            mine = [float(x) if x != '' else None for x in got[r[0]]]
            theirs = [float(x) if x is not None else None for x in r[1:]]
            assert mine == theirs, (key, col, r[0], mine, theirs)
            qchecked += 1
print('quantile groups checked', qchecked, 'all equal to DuckDB')

# Approximate aggregates: within their stated bounds of the exact values.
achecked = 0
worst_distinct = worst_quantile = 0.0
for key in ['origin', 'carrier', 'month']:
    out = subprocess.run([ff, path, '--group-by', key, '--agg',
                          'approx_distinct:tailnum,count_distinct:tailnum,approx_distinct:flight,'
                          'count_distinct:flight,approx_quantile:distance:0.9,approx_quantile:arr_delay:0.5',
                          '--null', 'NA'], capture_output=True, text=True, check=True).stdout
    by_key = defaultdict(lambda: defaultdict(list))
    for r in rows:
        for col in ('distance', 'arr_delay'):
            if r[col] not in ('', 'NA'):
                by_key[r[key]][col].append(float(r[col]))
    for line in out.strip().split('\n')[1:]:
        k, ad_t, cd_t, ad_f, cd_f, aq_d, aq_a = line.rsplit(',', 6)
        for a, c in ((ad_t, cd_t), (ad_f, cd_f)):
            a, c = int(a), int(c)
            err = 0 if c <= 512 and a == c else abs(a - c) / c
            assert c > 512 or a == c, (key, k, a, c)
            assert err <= 3 * 0.0081, (key, k, a, c)  # three standard errors
            worst_distinct = max(worst_distinct, err)
        for col, p, got in (('distance', 0.9, aq_d), ('arr_delay', 0.5, aq_a)):
            v = sorted(by_key[k][col])
            exact = v[int(p * (len(v) - 1))]
            got = float(got)
            err = abs(got - exact) / abs(exact) if exact else abs(got)
            assert err <= 0.01 + 1e-12, (key, k, col, got, exact)
            worst_quantile = max(worst_quantile, err)
        achecked += 1
print('approximate groups checked', achecked, f'worst distinct error {worst_distinct:.4f} (bound 3 x 0.0081),',
      f'worst quantile error {worst_quantile:.4f} (bound 0.01)')
