fn main() {
    print!("{}", kms_operator::api::crds::all_yaml().unwrap());
}
