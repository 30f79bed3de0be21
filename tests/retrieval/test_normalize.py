from retrieval.normalize import normalize, normalize_query, strip_fillers, to_simplified


def test_traditional_to_simplified_with_taiwan_phrases() -> None:
    assert to_simplified("臺北市政府") == "台北市政府"
    assert normalize("軟體下載") == "软件下载"


def test_full_width_case_and_whitespace() -> None:
    assert normalize("ＡＢＣ　１２３\n\t申請") == "abc 123 申请"


def test_fillers_are_removed_from_queries_only() -> None:
    assert normalize_query("您好，請問結婚登記要帶什麼材料？謝謝") == "结婚登记要带什么材料?"
    assert normalize_query("我想问一下护照多少钱") == "护照多少钱"
    assert normalize_query("麻烦问下，居住证怎么办") == "居住证怎么办"
    assert normalize("请问") == "请问"  # documents keep their words


def test_a_query_made_only_of_fillers_is_kept() -> None:
    assert strip_fillers("谢谢") == "谢谢"


def test_cross_strait_variants_meet() -> None:
    assert normalize("請攜帶身分證影本") == normalize("请携带身份证复印件")
