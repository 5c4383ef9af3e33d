"""The SAM template, as `sam build` leaves it, translates to plain CloudFormation with the expected resources."""

from tests.conftest import ROOT
from tests.deploy.conftest import resources_of


def test_two_image_functions_with_their_settings_and_dead_letter_queue(translated):
    functions = resources_of(translated, "AWS::Lambda::Function")
    assert set(functions) == {"FrameExtractorFunction", "FaceClassifierFunction"}
    settings = {name: (f["Properties"]["MemorySize"], f["Properties"]["Timeout"]) for name, f in functions.items()}
    assert settings == {"FrameExtractorFunction": (1024, 30), "FaceClassifierFunction": (2048, 60)}
    for function in functions.values():
        properties = function["Properties"]
        assert properties["PackageType"] == "Image" and properties["Code"]["ImageUri"]
        assert properties["ImageConfig"]["Command"] == ["app.lambda_handler"]
        assert "Ref" in properties["ReservedConcurrentExecutions"]
        assert properties["DeadLetterConfig"]["TargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
        assert properties["Role"]["Fn::GetAtt"][0] in resources_of(translated, "AWS::IAM::Role")


def test_two_roles_one_per_function(translated):
    assert set(resources_of(translated, "AWS::IAM::Role")) == {"FrameExtractorRole", "FaceClassifierRole"}


def test_the_bucket_notifies_each_function_for_its_prefix(translated):
    [bucket] = resources_of(translated, "AWS::S3::Bucket").values()
    wiring = {c["Function"]["Fn::GetAtt"][0]: [r["Value"] for r in c["Filter"]["S3Key"]["Rules"]]
              for c in bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"]}
    assert wiring == {"FrameExtractorFunction": ["videos/", ".mp4"], "FaceClassifierFunction": ["frames/", ".png"]}
    permissions = resources_of(translated, "AWS::Lambda::Permission").values()
    assert sorted(p["Properties"]["Principal"] for p in permissions) == ["s3.amazonaws.com"] * 2


def test_a_fifo_results_queue_a_dead_letter_queue_and_the_students_table(translated):
    queues = {name: q["Properties"] for name, q in resources_of(translated, "AWS::SQS::Queue").items()}
    assert queues["ResultsQueue"]["FifoQueue"] is True
    assert queues["DeadLetterQueue"]["MessageRetentionPeriod"] == 1209600
    [table] = resources_of(translated, "AWS::DynamoDB::Table").values()
    assert table["Properties"]["KeySchema"] == [{"AttributeName": "name", "KeyType": "HASH"}]


def test_each_function_has_a_log_group_with_retention(translated):
    groups = resources_of(translated, "AWS::Logs::LogGroup").values()
    assert len(groups) == 2
    assert all(g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups)


def test_each_image_names_a_dockerfile_and_the_folder_the_emulator_runs(sam_template):
    for resource in sam_template["Resources"].values():
        if resource.get("Properties", {}).get("PackageType") == "Image":
            metadata = resource["Metadata"]
            assert (ROOT / metadata["DockerContext"] / metadata["Dockerfile"]).is_file()
            handler_module = resource["Properties"]["ImageConfig"]["Command"][0].split(".")[0]
            assert (ROOT / metadata["EmulatorCodeUri"] / f"{handler_module}.py").is_file()
