//! The engine's validation and refusal messages in Chinese. The engine speaks English (its
//! messages are also the APIs' bodies, which clients parse), so the dashboard translates what it
//! shows: each pattern's `{}` stands for a detail that is kept as it is (a URL, a tag, a number).

/// `(English, Chinese)`; at most one `{}` in each, standing for the same detail.
const ZH_CN: &[(&str, &str)] = &[
    ("accepted", "已受理"),
    ("on {}", "属于 {}"),
    ("wrong user name or password", "用户名或密码错误"),
    ("user name too long", "用户名太长"),
    (
        "too many failed sign-ins; try again in 15 minutes",
        "登录失败次数过多，请 15 分钟后再试",
    ),
    (
        "too many failed sign-ins from your address; try again later",
        "来自你的地址的登录失败次数过多，请稍后再试",
    ),
    ("the current password is wrong", "当前密码不正确"),
    ("the host is not one of your domains", "该主机不是你的域名"),
    ("the same regex is still running", "同一正则仍在执行中"),
    (
        "today's quota for this kind is used up",
        "今天此类的配额已用完",
    ),
    (
        "not an absolute http(s) URL: {}",
        "不是绝对的 http(s) 网址：{}",
    ),
    ("{} is not one of your domains", "{} 不是你的域名"),
    ("the target is empty", "目标为空"),
    ("no target given", "没有给出目标"),
    ("a prefix must end in / or *", "前缀必须以 / 或 * 结尾"),
    (
        "a domain is required with tags and everything",
        "缓存标签和全部刷新需要指定域名",
    ),
    ("invalid regex: {}", "无效的正则：{}"),
    ("invalid host name: {}", "无效的主机名：{}"),
    (
        "invalid cache tag {}: 1 to 128 visible ASCII characters without spaces or commas",
        "无效的缓存标签 {}：须为 1 到 128 个可见 ASCII 字符，不含空格和逗号",
    ),
    (
        "the target contains a control character or invalid UTF-8",
        "目标含有控制字符或无效的 UTF-8",
    ),
    ("malformed percent-encoding in {}", "百分号编码有误：{}"),
    ("an everything target is written *", "全部刷新的目标写作 *"),
    (
        "verify and prefetch after the purge apply to exact URLs only",
        "刷新后的校验和预热只适用于精确网址",
    ),
    (
        "verify needs mode delete: an invalidated object is served stale on purpose",
        "校验需要删除模式：失效的对象会被有意地继续提供旧副本",
    ),
    (
        "you can't submit more than {} targets at a time",
        "一次最多提交 {} 个目标",
    ),
    (
        "checking too fast; try again in {} s",
        "检查过于频繁，请 {} 秒后再试",
    ),
    ("{} already exists", "{} 已存在"),
    (
        "role is admin or developer",
        "角色只能是 admin 或 developer",
    ),
    ("{} must be a whole number", "{} 必须是整数"),
    ("unknown protocol", "未知的协议"),
    ("an admin cannot disable themself", "管理员不能停用自己"),
    ("an admin cannot demote themself", "管理员不能给自己降级"),
    ("username is invalid", "用户名无效"),
    ("not a date: {}", "不是日期：{}"),
    ("task", "任务"),
    ("batch", "批次"),
];

/// `english` in Chinese, when it is one of the known messages.
pub(super) fn zh_cn(english: &str) -> Option<String> {
    ZH_CN.iter().find_map(|(pattern, chinese)| {
        let detail = matches(pattern, english)?;
        Some(chinese.replacen("{}", detail, 1))
    })
}

/// The detail standing for `{}` when `text` follows `pattern` (empty without a `{}`).
fn matches<'t>(pattern: &str, text: &'t str) -> Option<&'t str> {
    match pattern.split_once("{}") {
        None => (pattern == text).then_some(""),
        Some((before, after)) => {
            let rest = text.strip_prefix(before)?.strip_suffix(after)?;
            (!rest.is_empty()).then_some(rest)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_keeps_its_detail() {
        assert_eq!(
            zh_cn("you can't submit more than 50 targets at a time").as_deref(),
            Some("一次最多提交 50 个目标")
        );
        assert_eq!(
            zh_cn("www.example.org is not one of your domains").as_deref(),
            Some("www.example.org 不是你的域名")
        );
        assert_eq!(zh_cn("you can't submit more than  targets at a time"), None);
        assert_eq!(zh_cn("task"), Some("任务".to_owned()));
    }

    #[test]
    fn every_pattern_has_as_many_details_in_both_languages() {
        for (english, chinese) in ZH_CN {
            assert_eq!(english.matches("{}").count(), chinese.matches("{}").count());
            assert!(english.matches("{}").count() <= 1, "{english}");
        }
    }
}
