-- A/B test results (kpi-catalog section 7): per experiment and variant, visitors, converters
-- (int_experiment_variants_aggregated), conversion rate and, for every variant other than
-- `control`, the lift against control and a two-proportion pooled z-test:
--   p_pool = (x_v + x_c) / (n_v + n_c),  se = sqrt(p_pool (1 - p_pool) (1/n_v + 1/n_c)),
--   z = (p_v - p_c) / se,  two-sided p_value = erfc(|z| / sqrt(2))  (macro erfc,
--   Abramowitz-Stegun 7.1.26, |error| < 1.5e-7),  is_significant = p_value < var ab_test_alpha.
-- The control row and experiments without a control have NULL lift / test columns; z and p
-- are NULL when se = 0 (both rates 0 or both 1).

with

variants as (

    select * from {{ ref('int_experiment_variants_aggregated') }}

),

control as (

    select
        experiment_id,
        visitors as control_visitors,
        converters as control_converters
    from variants
    where variant = 'control'

),

joined as (

    select
        variants.experiment_id,
        variants.variant,
        variants.visitors,
        variants.converters,
        variants.first_assigned_at,
        variants.last_assigned_at,
        variants.variant = 'control' as is_control,
        control.control_visitors,
        control.control_converters,
        {{ safe_divide('variants.converters', 'variants.visitors') }} as conversion_rate,
        {{ safe_divide('control.control_converters', 'control.control_visitors') }}
            as control_conversion_rate,
        {{ safe_divide(
            'variants.converters + control.control_converters',
            'variants.visitors + control.control_visitors'
        ) }} as pooled_rate
    from variants
    left join control
        on variants.experiment_id = control.experiment_id

),

tested as (

    select
        joined.*,
        case
            when not joined.is_control and joined.visitors > 0 and joined.control_visitors > 0
                then sqrt(
                        joined.pooled_rate * (1 - joined.pooled_rate)
                        * (1.0 / joined.visitors + 1.0 / joined.control_visitors)
                    )
        end as standard_error
    from joined

),

scored as (

    select
        tested.*,
        {{ safe_divide(
            'tested.conversion_rate - tested.control_conversion_rate', 'tested.standard_error'
        ) }} as z_score
    from tested

),

final as (

    select
        experiment_id,
        variant,
        cast(visitors as {{ dbt.type_bigint() }}) as visitors,
        cast(converters as {{ dbt.type_bigint() }}) as converters,
        conversion_rate,
        case
            when not is_control then conversion_rate - control_conversion_rate
        end as abs_lift,
        case
            when not is_control
                then {{ safe_divide(
                    'conversion_rate - control_conversion_rate', 'control_conversion_rate'
                ) }}
        end as rel_lift,
        z_score,
        {{ erfc('abs(z_score) / sqrt(2.0)') }} as p_value,
        {{ erfc('abs(z_score) / sqrt(2.0)') }} < {{ var('ab_test_alpha') }} as is_significant,
        cast(control_visitors as {{ dbt.type_bigint() }}) as control_visitors,
        cast(control_converters as {{ dbt.type_bigint() }}) as control_converters,
        control_conversion_rate,
        standard_error,
        cast({{ var('ab_test_alpha') }} as double) as alpha,
        first_assigned_at,
        last_assigned_at
    from scored

)

select * from final
