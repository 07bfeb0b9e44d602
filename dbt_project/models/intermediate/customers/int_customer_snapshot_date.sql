-- The snapshot date of the customer KPIs (RFM, lifecycle, tiers, LTV, retention maturity): var
-- as_of_date when set, else the last business date of the data = the latest business date in
-- int_date_spine (the latest order_date or local event date of any session). One row.

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

final as (

    select
        {% if var('as_of_date') -%}
        cast('{{ var("as_of_date") }}' as date)
        {%- else -%}
        max(business_date)
        {%- endif %} as as_of_date,
        min(business_date) as data_start_date,
        max(business_date) as data_end_date
    from spine

)

select * from final
