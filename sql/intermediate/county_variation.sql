-- The inter-school variation coefficient (差异系数) of every county, level, method and
-- indicator. This is the only place the CV formula is written; county_cv (优质均衡) and
-- county_basic_balance (基本均衡) both read it.
--
-- Enrolment-weighted, population form (教督〔2017〕6号; published worked example):
--     P_i = students of unit i,  P = Σ P_i
--     X̄  = Σ P_i·x_i / P          (= Σ resource / Σ students, the county aggregate ratio,
--                                   not the mean of the school ratios)
--     S  = sqrt( Σ (P_i/P)·(x_i − X̄)² )
--     CV = S / X̄
-- One unit: CV = 0. X̄ = 0: CV undefined (null, with the reason), never a division error.
-- Units whose value is undefined (a missing input) are left out and not counted in `units`.
--
-- All indicators at once, straight from unit_indicators' columns: `columns(* exclude (keys))`
-- applies an expression to every indicator column, and the per-indicator results travel as
-- lists in the column order (element i is the i-th indicator column). Sums are exact
-- (fixed-point decimals, 12 places): floating-point addition is not associative, so a plain
-- parallel sum could differ in its last bits between reruns.
with u as (
    select * from unit_indicators where year = getvariable('run_year')
),

indicator_names as (
    select list(column_name order by column_index) as names
    from duckdb_columns()
    where database_name = current_database() and schema_name = 'main' and table_name = 'unit_indicators'
      and column_name not in ('year', 'province_code', 'county_code', 'school_id', 'level', 'students')
),

-- per county and level: Σ P·x, Σ P and the number of units, over the units with a value
sums as (
    select
        year, province_code, county_code, level,
        sum((students * columns(* exclude (year, province_code, county_code, school_id, level, students)))
            ::decimal(38, 12))::double as 'px_\0',
        sum(case when columns(* exclude (year, province_code, county_code, school_id, level, students))
                 is not null then students end) as 'p_\0',
        count(columns(* exclude (year, province_code, county_code, school_id, level, students))) as 'n_\0'
    from u
    group by all
),

packed as (
    select year, province_code, county_code, level, list_value(*columns('^px_')) as px,
           list_value(*columns('^p_')) as students, list_value(*columns('^n_')) as units
    from sums
),

county as (
    select * exclude (px), list_transform(px, (v, i) -> v / students[i]) as county_value from packed
),

-- Σ P·(x − X̄)² per county, level and indicator
deviation as (
    select v.county_code, v.level, g.i,
           sum((v.students * (v.x[g.i] - c.county_value[g.i]) ^ 2)::decimal(38, 12))::double
               as weighted_squared_deviation
    from (select county_code, level, students,
                 list_value(*columns(* exclude (year, province_code, county_code, school_id, level, students))) as x
          from u) v
    join county c using (county_code, level)
    cross join range(1, (select len(names) + 1 from indicator_names)) g(i)
    where v.x[g.i] is not null
    group by all
),

long as (
    select c.year, c.province_code, c.county_code, c.level, n.names[d.i] as indicator,
           c.students[d.i] as students, c.units[d.i] as units, c.county_value[d.i] as county_value,
           d.weighted_squared_deviation
    from deviation d
    join county c using (county_code, level)
    cross join indicator_names n
)

select
    c.year, c.province_code, c.county_code, c.level, d.method, c.indicator,
    names.province, names.county_name, c.students, c.units, c.county_value,
    case
        when c.county_value = 0 then null
        when c.units = 1 then 0.0
        else sqrt(c.weighted_squared_deviation / c.students) / c.county_value
    end as cv,
    case when c.county_value = 0 then 'county_value_zero' end as cv_undefined_reason
from long c
join dim_indicators d on d.indicator = c.indicator
join (
    select county_code, min(province) as province, min(county_name) as county_name
    from school_units where year = getvariable('run_year') group by county_code
) names using (county_code)
