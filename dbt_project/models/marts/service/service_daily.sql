{{ config(**incremental_config(unique_key='business_date')) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Customer-service KPIs per business day of ticket opening (kpi-catalog section 6), one row per
-- business date of int_date_spine. Medians and p90s of first-response and resolution hours are
-- over the day's tickets that have a first response / are resolved (unresolved tickets have no
-- resolution time and are left out of the quantiles). sla_resolved_rate = tickets resolved
-- within var('ticket_sla_hours') / all tickets opened that day: an unresolved ticket counts as
-- not meeting the SLA.

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

tickets as (

    select * from {{ ref('int_tickets_measured') }}

),

tickets_daily as (

    select
        opened_date as business_date,
        count(*) as tickets,
        sum(case when is_complaint then 1 else 0 end) as complaints,
        {{ continuous_quantile('first_response_hours', 0.5) }} as median_first_response_hours,
        {{ continuous_quantile('first_response_hours', 0.9) }} as p90_first_response_hours,
        {{ continuous_quantile('resolution_hours', 0.5) }} as median_resolution_hours,
        {{ continuous_quantile('resolution_hours', 0.9) }} as p90_resolution_hours,
        sum(case when first_response_hours is not null then 1 else 0 end) as responded_tickets,
        sum(case when is_resolved then 1 else 0 end) as resolved_tickets,
        sum(case when is_resolved_within_sla then 1 else 0 end) as resolved_within_sla
    from tickets
    group by opened_date

),

daily as (

    select
        spine.business_date,
        coalesce(tickets_daily.tickets, 0) as tickets,
        coalesce(tickets_daily.complaints, 0) as complaints,
        tickets_daily.median_first_response_hours,
        tickets_daily.p90_first_response_hours,
        tickets_daily.median_resolution_hours,
        tickets_daily.p90_resolution_hours,
        coalesce(tickets_daily.responded_tickets, 0) as responded_tickets,
        coalesce(tickets_daily.resolved_tickets, 0) as resolved_tickets,
        coalesce(tickets_daily.resolved_within_sla, 0) as resolved_within_sla
    from spine
    left join tickets_daily
        on spine.business_date = tickets_daily.business_date

),

final as (

    select
        business_date,
        cast(tickets as {{ dbt.type_bigint() }}) as tickets,
        cast(complaints as {{ dbt.type_bigint() }}) as complaints,
        cast(median_first_response_hours as double) as median_first_response_hours,
        cast(p90_first_response_hours as double) as p90_first_response_hours,
        cast(median_resolution_hours as double) as median_resolution_hours,
        cast(p90_resolution_hours as double) as p90_resolution_hours,
        {{ safe_divide('resolved_within_sla', 'tickets') }} as sla_resolved_rate,
        cast(responded_tickets as {{ dbt.type_bigint() }}) as responded_tickets,
        cast(resolved_tickets as {{ dbt.type_bigint() }}) as resolved_tickets,
        cast(tickets - resolved_tickets as {{ dbt.type_bigint() }}) as unresolved_tickets,
        cast(resolved_within_sla as {{ dbt.type_bigint() }}) as resolved_within_sla
    from daily

)

select * from final
{{- incremental_rows_filter(
    'business_date'
) }}
