{#
    Marketing channel of a session from its first event's utm_source, utm_medium and referrer.
    Returns one of: paid_search, organic_search, paid_social, social, email, sms, affiliate,
    referral, direct, other. The rules (first match wins) are documented in macros/_macros.yml;
    the lists of search engines and social networks are the jinja lists below.
#}

{% macro channel_group(utm_source, utm_medium, referrer) -%}
    {{ return(adapter.dispatch('channel_group')(utm_source, utm_medium, referrer)) }}
{%- endmacro %}

{% macro default__channel_group(utm_source, utm_medium, referrer) -%}
    {#- utm_source values (exact, lowercased) -#}
    {%- set search_sources = [
        'google', 'bing', 'baidu', 'sogou', '360', 'so360', 'haosou', 'shenma', 'yahoo',
        'yandex', 'duckduckgo', 'naver'
    ] -%}
    {%- set social_sources = [
        'weibo', 'wechat', 'weixin', 'douyin', 'tiktok', 'xiaohongshu', 'xhs', 'redbook',
        'kuaishou', 'bilibili', 'qq', 'qzone', 'facebook', 'fb', 'instagram', 'ig',
        'twitter', 'x', 'linkedin', 'pinterest', 'youtube', 'reddit', 'snapchat'
    ] -%}
    {#- referrer host suffixes: the host equals the domain or ends with "." + domain -#}
    {%- set search_domains = [
        'google.com', 'google.com.hk', 'google.cn', 'bing.com', 'baidu.com', 'sogou.com',
        'so.com', 'sm.cn', 'yahoo.com', 'yandex.ru', 'yandex.com', 'duckduckgo.com', 'naver.com'
    ] -%}
    {%- set social_domains = [
        'weibo.com', 'weibo.cn', 'weixin.qq.com', 'wechat.com', 'douyin.com', 'tiktok.com',
        'xiaohongshu.com', 'xhslink.com', 'kuaishou.com', 'bilibili.com', 'b23.tv',
        'qzone.qq.com', 'facebook.com', 'instagram.com', 'twitter.com', 't.co', 'x.com',
        'linkedin.com', 'pinterest.com', 'youtube.com', 'reddit.com'
    ] -%}
    {#- utm_medium values (exact, lowercased) -#}
    {%- set paid_search_mediums = ['paid_search', 'paidsearch', 'paid-search', 'sem'] -%}
    {%- set paid_social_mediums = [
        'paid_social', 'paidsocial', 'paid-social', 'social_paid', 'social-paid'
    ] -%}
    {%- set paid_mediums = [
        'cpc', 'ppc', 'cpm', 'cpa', 'cpv', 'paid', 'display', 'banner', 'retargeting'
    ] -%}
    {%- set email_mediums = ['email', 'e-mail', 'e_mail', 'edm', 'newsletter'] -%}
    {%- set sms_mediums = ['sms', 'text', 'text_message'] -%}
    {%- set affiliate_mediums = ['affiliate', 'affiliates', 'cps', 'partner', 'partners'] -%}
    {%- set organic_mediums = ['organic', 'organic_search', 'seo'] -%}
    {%- set social_mediums = [
        'social', 'social_media', 'social-media', 'social_network', 'social-network',
        'organic_social', 'sm'
    ] -%}
    {%- set none_values = ['', '(none)', 'none', '(not set)', 'null'] -%}

    {%- set src = "lower(trim(coalesce(" ~ utm_source ~ ", '')))" -%}
    {%- set med = "lower(trim(coalesce(" ~ utm_medium ~ ", '')))" -%}
    {%- set ref = "lower(trim(coalesce(" ~ referrer ~ ", '')))" -%}
    {%- set host = "regexp_extract(" ~ ref ~ ", '^(?:[a-z][a-z0-9+.-]*://)?([^/:?#]+)', 1)" -%}

    {#- "<expr> in ('a', 'b')" snippets -#}
    {%- set q = "', '" -%}
    {%- set med_paid_search = med ~ " in ('" ~ paid_search_mediums | join(q) ~ "')" -%}
    {%- set med_paid_social = med ~ " in ('" ~ paid_social_mediums | join(q) ~ "')" -%}
    {%- set med_paid = med ~ " in ('" ~ paid_mediums | join(q) ~ "')" -%}
    {%- set med_email = med ~ " in ('" ~ email_mediums | join(q) ~ "')" -%}
    {%- set src_email = src ~ " in ('" ~ email_mediums | join(q) ~ "')" -%}
    {%- set med_sms = med ~ " in ('" ~ sms_mediums | join(q) ~ "')" -%}
    {%- set med_affiliate = med ~ " in ('" ~ affiliate_mediums | join(q) ~ "')" -%}
    {%- set med_organic = med ~ " in ('" ~ organic_mediums | join(q) ~ "')" -%}
    {%- set med_social = med ~ " in ('" ~ social_mediums | join(q) ~ "')" -%}
    {%- set med_none = med ~ " in ('" ~ none_values | join(q) ~ "')" -%}
    {%- set src_none = src ~ " in ('" ~ (none_values + ['(direct)', 'direct']) | join(q) ~ "')" -%}
    {%- set src_search = src ~ " in ('" ~ search_sources | join(q) ~ "')" -%}
    {%- set src_social = src ~ " in ('" ~ social_sources | join(q) ~ "')" -%}
    {%- set ref_none = ref ~ " in ('" ~ none_values | join(q) ~ "')" -%}
    {%- set ref_search -%}
        ({{ host }} in ('{{ (search_domains + search_sources) | join(q) }}')
        {%- for d in search_domains %} or {{ host }} like '%.{{ d }}'{% endfor %})
    {%- endset -%}
    {%- set ref_social -%}
        ({{ host }} in ('{{ (social_domains + social_sources) | join(q) }}')
        {%- for d in social_domains %} or {{ host }} like '%.{{ d }}'{% endfor %})
    {%- endset -%}

    case
        when {{ med_paid_search }} then 'paid_search'
        when {{ med_paid_social }} then 'paid_social'
        when {{ med_paid }} and {{ src_social }} then 'paid_social'
        when {{ med_paid }} and {{ src_search }} then 'paid_search'
        when {{ med }} in ('cpc', 'ppc') then 'paid_search'
        when {{ med_email }} or {{ src_email }} then 'email'
        when {{ med_sms }} or {{ src }} = 'sms' then 'sms'
        when {{ med_affiliate }} then 'affiliate'
        when {{ med_organic }} then 'organic_search'
        when {{ med_social }} then 'social'
        when {{ med }} = 'referral' then 'referral'
        when {{ med_none }} and {{ src_search }} then 'organic_search'
        when {{ med_none }} and {{ src_social }} then 'social'
        when {{ med_none }} and {{ src_none }} then
            case
                when {{ ref_none }} then 'direct'
                when {{ ref_search }} then 'organic_search'
                when {{ ref_social }} then 'social'
                else 'referral'
            end
        else 'other'
    end
{%- endmacro %}
